"""The GNU Radio blocks of gensem, one per file; GRC imports them (``gr-gensem/grc``) as
``from gensem import <block>``, which gives the class."""

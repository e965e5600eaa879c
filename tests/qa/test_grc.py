"""GRC integration: block YAML for every gensem block, and the example flowgraph.

(a) each block module of the package has ``gr-gensem/grc/gensem_<module>.block.yml`` with
    the matching id, documentation, and parameters/ports that agree with the Python class;
(b) ``grcc`` compiles ``flowgraphs/loopback_sim.grc`` with ``GRC_BLOCKS_PATH`` set;
(c) the generated no-GUI script runs to completion.
"""

import ast
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PKG_PARENT = ROOT / "gr-gensem" / "python"
PKG = PKG_PARENT / "gensem"
GRC_DIR = ROOT / "gr-gensem" / "grc"
FLOWGRAPH = ROOT / "flowgraphs" / "loopback_sim.grc"

EXPECTED_BLOCKS = (
    "two_stream_tx",
    "two_stream_rx",
    "ofdm_channel",
    "block_fading",
    "prompt_arq_rx",
    "feedback_channel",
    "prbs_ber_sink",
    "plan_controller",
    "semantic_tx",
    "semantic_rx",
    "sigmf_recorder",
    "radio_sink",
    "radio_source",
    "zmq_bridge_sink",
    "edge_part_parser",
    "zmq_feedback_sink",
    "zmq_feedback_source",
)
# the blocks flowgraphs/loopback_sim.grc uses (block_fading lives inside ofdm_channel)
LOOPBACK_SIM_BLOCKS = (
    "two_stream_tx",
    "two_stream_rx",
    "ofdm_channel",
    "prompt_arq_rx",
    "feedback_channel",
    "prbs_ber_sink",
)
# constructor arguments for blocks that cannot be built with their defaults here (no radio)
TEST_KWARGS = {
    "radio_sink": {"dry_run": True},
    "radio_source": {"dry_run": True},
    "sigmf_recorder": {"path": "PLACEHOLDER"},
}
MESSAGE_OUT_ONLY_PORTS = {"system"}  # every gr block has a hidden "system" input port


def _block_modules():
    """Modules of gensem.blocks that define a top-level class named like the file (GR OOT style)."""
    found = []
    for path in sorted((PKG / "blocks").glob("*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.ClassDef) and n.name == path.stem for n in tree.body):
            found.append(path.stem)
    return found


def _load_yml(name):
    path = GRC_DIR / f"gensem_{name}.block.yml"
    assert path.is_file(), f"missing {path.relative_to(ROOT)}"
    with open(path) as f:
        return yaml.safe_load(f)


def test_block_list_matches_package():
    import gensem

    assert sorted(_block_modules()) == sorted(EXPECTED_BLOCKS)
    assert sorted(gensem._BLOCKS) == sorted(EXPECTED_BLOCKS)


@pytest.mark.parametrize("name", EXPECTED_BLOCKS)
def test_block_yml_id_and_documentation(name):
    doc = _load_yml(name)
    assert doc["id"] == f"gensem_{name}"
    assert doc.get("file_format") == 1
    assert doc.get("category") == "[gensem]"
    assert isinstance(doc.get("documentation"), str) and doc["documentation"].strip()
    tpl = doc["templates"]
    assert tpl["imports"].strip() == f"from gensem import {name}"
    assert tpl["make"].lstrip().startswith(f"{name}(")


@pytest.mark.parametrize("name", EXPECTED_BLOCKS)
def test_block_yml_agrees_with_class(name, tmp_path):
    """Parameters == constructor arguments, message ports == registered ports, callbacks exist."""
    import importlib

    import pmt
    from gnuradio import gr

    cls = getattr(importlib.import_module(f"gensem.blocks.{name}"), name)
    doc = _load_yml(name)

    sig = inspect.signature(cls.__init__)
    ctor_args = [p for p in sig.parameters if p != "self"]
    yml_params = [p["id"] for p in doc.get("parameters", [])]
    assert yml_params == ctor_args
    for p in doc.get("parameters", []):
        assert "dtype" in p, p["id"]
        if "default" in p and p["dtype"] != "raw":
            # the yml default is the Python default (as GRC would render it)
            assert str(p["default"]) == str(sig.parameters[p["id"]].default), p["id"]
        if "default" in p and p["dtype"] in ("real", "int", "bool", "float"):
            ast.literal_eval(str(p["default"]))  # GRC evaluates it without imports (no bare nan)

    for cb in doc["templates"].get("callbacks", []):
        assert callable(getattr(cls, cb.split("(")[0], None)), cb

    kwargs = dict(TEST_KWARGS.get(name, {}))
    if kwargs.get("path") == "PLACEHOLDER":
        kwargs["path"] = str(tmp_path / "rec")
    blk = cls(**kwargs)

    def ports(direction):
        return [p for p in doc.get(direction, []) if p.get("domain") == "message"]

    def live(attr, hier_attr):
        if isinstance(blk, gr.hier_block2):
            # hier message ports are not listed by message_ports_in/out(): the class
            # declares the ports it registers with message_port_register_hier_in/out
            return set(getattr(cls, hier_attr, ()))
        fn = getattr(blk, attr, None)
        names = set(pmt.to_python(fn())) if fn is not None else set()
        return names - MESSAGE_OUT_ONLY_PORTS

    assert {p["id"] for p in ports("inputs")} == live("message_ports_in", "MESSAGE_INPUTS")
    assert {p["id"] for p in ports("outputs")} == live("message_ports_out", "MESSAGE_OUTPUTS")
    n_stream_in = sum(p.get("domain", "stream") == "stream" for p in doc.get("inputs", []))
    n_stream_out = sum(p.get("domain", "stream") == "stream" for p in doc.get("outputs", []))
    assert n_stream_in == blk.input_signature().max_streams() or (
        n_stream_in == 0 and blk.input_signature().max_streams() <= 0
    )
    assert n_stream_out == blk.output_signature().max_streams() or (
        n_stream_out == 0 and blk.output_signature().max_streams() <= 0
    )


def test_tree_yml_lists_every_block():
    path = GRC_DIR / "gensem.tree.yml"
    if not path.is_file():
        pytest.skip("no category tree")
    tree = yaml.safe_load(path.read_text())
    listed = {b for group in tree["[gensem]"] for blocks in group.values() for b in blocks}
    assert listed == {f"gensem_{n}" for n in EXPECTED_BLOCKS}


@pytest.fixture(scope="module")
def compiled_flowgraph(tmp_path_factory):
    grcc = shutil.which("grcc")
    if grcc is None:
        pytest.skip("grcc not installed")
    out = tmp_path_factory.mktemp("grcc")
    # the flowgraph's radio-profile variable imports gensem while grcc evaluates it (README: GRC
    # runs with PYTHONPATH=gr-gensem/python)
    pypath = os.pathsep.join(filter(None, [str(PKG_PARENT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, GRC_BLOCKS_PATH=str(GRC_DIR), PYTHONPATH=pypath)
    res = subprocess.run(
        [grcc, "-o", str(out), str(FLOWGRAPH)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return out / "loopback_sim.py"


def test_grcc_compiles_loopback_sim(compiled_flowgraph):
    assert compiled_flowgraph.is_file()
    src = compiled_flowgraph.read_text()
    compile(src, str(compiled_flowgraph), "exec")
    for name in LOOPBACK_SIM_BLOCKS:
        assert f"from gensem import {name}" in src


def test_loopback_sim_runs_to_completion(compiled_flowgraph):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PKG_PARENT), env.get("PYTHONPATH")]))
    res = subprocess.run(
        [sys.executable, str(compiled_flowgraph)],
        cwd=compiled_flowgraph.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "gensem loopback: 200 frames" in out  # snippet printed after tb.wait(): every PRBS frame
    assert "prompt_seq" in out  # message_debug printed the delivered prompt PDU

"""One source per over-the-air graph (issue 16): ``flowgraphs/{tx,rx}_{usrp,hackrf}.grc`` are
the graphs ``gensem radio tx|rx --device usrp|hackrf`` builds.

``gensem.apps.radio.graph_spec(role, args)`` is the CLI's graph (``RadioTx`` / ``RadioRx``
are built from it and nothing else). Each .grc is read with ``yaml.safe_load`` and
evaluated the way GRC does it (its parameters' default values, then every block parameter
by the dtype of the block's YAML, unset ones from the YAML default), and compared with the
spec for the CLI's defaults of that device: the blocks (instance names, block ids,
parameter values), the stream connections and the message connections. The same again
with every parameter changed (the .grc parameter and the CLI flag set to the same
non-default value), so each flag is wired to the same block parameter on both sides.

What is not compared is listed below with the reason (docs/ota.md, "One source for the
OTA graphs"). ``test_changed_*`` show that the comparison fails on a changed .grc.
"""

from __future__ import annotations

import ast
import functools
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

pytest.importorskip("gnuradio")

from gensem.apps import radio
from gensem.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
FLOWGRAPHS = ROOT / "flowgraphs"
GENSEM_GRC = ROOT / "gr-gensem" / "grc"
GRAPHS = [(role, device) for device in ("usrp", "hackrf") for role in ("tx", "rx")]

# --- what is deliberately not compared --------------------------------------------------
# GRC blocks that only exist to hold values or code (never a block of the graph)
GRC_HOLDERS = {"options", "parameter", "variable", "import", "snippet"}
# blocks only the .grc flowgraphs have
GRC_ONLY_BLOCKS = {
    "blocks_message_debug_0": "the generated RX script prints each delivered prompt PDU on stdout; "
    "gensem radio rx reports the prompts in its JSON / summary line instead",
}
# blocks only gensem radio has
CLI_ONLY_BLOCKS = {
    "blocks_null_sink_0": "the sample counter behind the 'samples' key of gensem radio rx --json",
}
# blocks of the spec that the hardware defaults leave out (asserted absent below)
CLI_OPTIONAL_BLOCKS = {
    "blocks_throttle_0": "--device zmq --realtime only (a ZeroMQ 'radio' has no sample clock)",
    "gensem_ofdm_channel_0": "--sim-snr-db / the radio-impairment options only (a simulated channel)",
}
# snippets: the recorder is compared (it is the CLI's --record); the others are the generated
# script's own run loop and report, which gensem radio has in cli/radio.py
GRC_SNIPPETS = {
    "recorder": "compared: gensem_sigmf_recorder_0 and its connection when --record is set",
    "stop_when_done": "TX script: stop once the TX has finished (gensem radio: _run's done())",
    "report": "the script's summary line (gensem radio: the JSON / summary line)",
}
# .grc parameter -> gensem radio flag (dest); every other parameter has the flag's name
GRC_TO_CLI = {
    "dev_args": "args",  # --dev-args of the generated scripts (docs/ota.md)
    "arq_window": "window",  # GRC refuses a parameter named "window"
}
GRC_PARAMS = {
    "tx": {
        "freq", "gain", "samp_rate", "args", "antenna", "dry_run", "feedback", "seed",
        "text", "frames", "mod", "prompt_power", "payload_bytes", "window", "ack_timeout",
        "max_retries", "scale", "curve_keys", "adaptive_plan", "target_ber",
        "per_model",
    },
    "rx": {
        "freq", "gain", "samp_rate", "args", "antenna", "dry_run", "feedback", "seed",
        "replay", "record", "decode_process", "dc_blocker", "curve_keys",
    },
}  # fmt: skip
# gensem radio flags without a .grc parameter
CLI_ONLY_FLAGS = {
    "role": "one .grc per role",
    "device": "one .grc per device: the radio block's device is fixed",
    "duration": "the CLI's run loop (the scripts run until Ctrl-C or the TX is done)",
    "json": "the CLI's report",
    "until_prompt": "the CLI's stop rule",
    "realtime": "--device zmq only",
    "linger": "--device zmq only",
    "sim_snr_db": "a simulated channel (tests), not an over-the-air graph",
    "sim_snr_profile": "a simulated channel (tests), not an over-the-air graph",
    "targets": "the CLI turns quality targets into --target-ber (the .grc takes the BER)",
    "calibration": "the calibration CSV behind --targets",
    "cmd": "argparse plumbing (the subcommand)",
    "func": "argparse plumbing",
}
# .grc parameter defaults that differ from the CLI's on purpose; the graph comparison then
# runs the CLI with the .grc's value
DEFAULT_EXCEPTIONS = {
    ("usrp", "dev_args"): "the USRP flowgraphs name the B200 of the runbook (type=b200); the CLI "
    "opens the first USRP UHD finds ('') and takes --args type=b200 (tests/qa/test_flowgraphs.py "
    "checks the scripts' one-line error naming 'type=b200')",
    ("usrp", "feedback"): "the CLI's '' means no feedback block, GRC cannot leave a block out on a "
    "parameter: the .grc has the ZMQ block with the runbook's address",
    ("hackrf", "feedback"): "as for the USRP",
    ("usrp", "target_ber"): "the CLI's None lets --targets set the BER (both: one-line error); "
    "unset, the planner gets 1e-5, the .grc's default",
    ("hackrf", "target_ber"): "as for the USRP",
}
# a non-default value for every flag a .grc parameter carries (the wiring check)
CHANGED = {
    "freq": 915e6,
    "gain": 33.0,
    "samp_rate": 2e6,
    "args": "serial=1234",
    "antenna": "TX/RX",
    "dry_run": True,
    "feedback": "tcp://10.0.0.2:6000",
    "curve_keys": "/etc/gensem/keys",
    "adaptive_plan": True,
    "target_ber": 1e-4,
    "per_model": "measured",
    "seed": 9,
    "text": "a red car",
    "frames": 7,
    "mod": 64,
    "prompt_power": 0.3,
    "payload_bytes": 128,
    "window": 2,
    "ack_timeout": 0.7,
    "max_retries": 5,
    "scale": 0.2,
    "replay": "rec/x",
    "record": "out/y",
    "decode_process": True,
    "dc_blocker": "off",
}
# GRC's own per-block parameters (not the block's): never part of the graph
GRC_COMMON_PARAMS = {"alias", "affinity", "comment", "maxoutbuf", "minoutbuf"}


# --- GRC evaluation ---------------------------------------------------------------------
@functools.cache
def _block_yml(block_id):
    """The block's YAML (gensem's or GNU Radio's), None when there is none."""
    from gnuradio import gr

    dirs = (GENSEM_GRC, Path(gr.prefix()) / "share" / "gnuradio" / "grc" / "blocks")
    paths = [d / f"{block_id}.block.yml" for d in dirs if (d / f"{block_id}.block.yml").is_file()]
    return yaml.safe_load(paths[0].read_text()) if paths else None


def _eval(expr, dtype, ns):
    """A parameter value as GRC evaluates it: strings are expressions when they evaluate to a
    str and literal text otherwise; enums are their key; the rest are Python expressions."""
    text = str(expr)
    if dtype == "enum":
        return text
    if dtype in ("string", "file_open", "file_save"):
        try:
            value = eval(text, {}, dict(ns))
        except Exception:  # noqa: BLE001 - GRC takes the text of whatever does not evaluate
            return text
        return value if isinstance(value, str) else text
    return eval(text, {}, dict(ns))


def _block_params(block_id, given, ns, where):
    """{param: value} of one block: the given expressions, the YAML's defaults for the others."""
    doc = _block_yml(block_id)
    if doc is None:  # no YAML: take the given expressions as they are
        return {k: _eval(v, "raw", ns) for k, v in given.items() if k not in GRC_COMMON_PARAMS}, []
    out, problems = {}, []
    declared = {p["id"]: p for p in doc.get("parameters", [])}
    for pid, p in declared.items():
        if pid in given:
            out[pid] = _eval(given[pid], p.get("dtype", "raw"), ns)
        elif "default" in p:
            out[pid] = _eval(p["default"], p.get("dtype", "raw"), {})
        else:
            problems.append(f"{where}: {block_id} parameter {pid!r} has no value")
    problems += [
        f"{where}: {block_id} has no parameter {k!r}"
        for k in given
        if k not in declared and k not in GRC_COMMON_PARAMS
    ]
    return out, problems


def _snippet_blocks(code, ns, where):
    """Blocks and stream connections a recorder-like snippet adds (``if self.X:``, ``from
    gensem import NAME``, ``self.B = NAME(kw=...)``, ``self.connect((self.A, i), (self.B, j))``)."""
    me = SimpleNamespace(**ns)
    env = {"self": me, "float": float}
    blocks, conns, problems, imported = {}, [], [], {}
    tree = ast.parse(code)
    stmts = list(tree.body)
    while stmts:
        st = stmts.pop(0)
        if isinstance(st, ast.If):
            if eval(compile(ast.Expression(st.test), where, "eval"), env):
                stmts[:0] = st.body
            else:
                stmts[:0] = st.orelse
        elif isinstance(st, ast.ImportFrom) and st.module == "gensem":
            imported.update({a.asname or a.name: f"gensem_{a.name}" for a in st.names})
        elif (
            isinstance(st, ast.Assign)
            and isinstance(st.value, ast.Call)
            and isinstance(st.value.func, ast.Name)
            and st.value.func.id in imported
        ):
            name = ast.unparse(st.targets[0]).removeprefix("self.")
            block_id = imported[st.value.func.id]
            declared = [p["id"] for p in _block_yml(block_id)["parameters"]]
            given = {declared[i]: ast.unparse(a) for i, a in enumerate(st.value.args)}
            given.update({k.arg: ast.unparse(k.value) for k in st.value.keywords})
            params, probs = _block_params(block_id, given, env, f"{where} {name}")
            blocks[name] = (block_id, params)
            problems += probs
        elif (
            isinstance(st, ast.Expr)
            and isinstance(st.value, ast.Call)
            and ast.unparse(st.value.func) == "self.connect"
        ):
            (src, sp), (dst, dp) = [  # (self.A, port) or self.A (port 0)
                (ast.unparse(e.elts[0]), ast.literal_eval(e.elts[1]))
                if isinstance(e, ast.Tuple)
                else (ast.unparse(e), 0)
                for e in st.value.args
            ]
            src, dst = src.removeprefix("self."), dst.removeprefix("self.")
            conns.append((src, sp, dst, dp))
        else:
            problems.append(f"{where}: snippet statement not understood: {ast.unparse(st)}")
    return blocks, conns, problems


def load_grc(path, overrides=None):
    """The graph of a .grc: {"params", "blocks", "connections", "msg_connections", "problems"}."""
    doc = yaml.safe_load(Path(path).read_text())
    live = [b for b in doc["blocks"] if b.get("states", {}).get("state", "enabled") == "enabled"]
    ns, problems = {}, []
    for b in live:  # parameters first: they cannot depend on variables
        if b["id"] == "parameter":
            p = b["parameters"]
            ptype = {"str": "string", "": "raw"}.get(p.get("type", ""), "raw")
            ns[b["name"]] = _eval(p.get("value", "0"), ptype, {})
    params = dict(ns)
    ns.update(overrides or {})
    for b in live:
        if b["id"] == "import":
            exec(b["parameters"]["imports"], {}, ns)  # noqa: S102
    pending = [b for b in live if b["id"] == "variable"]
    for _ in range(len(pending) + 1):  # variables may use each other: evaluate to a fixpoint
        left = []
        for b in pending:
            try:
                ns[b["name"]] = eval(str(b["parameters"]["value"]), {}, dict(ns))
            except NameError:
                left.append(b)
        pending = left
    problems += [f"{path.name}: variable {b['name']} cannot be evaluated" for b in pending]

    blocks, conns, msgs = {}, [], []
    for b in live:
        if b["id"] in GRC_HOLDERS:
            if b["id"] == "snippet":
                if b["name"] not in GRC_SNIPPETS:
                    problems.append(f"{path.name}: snippet {b['name']!r} is not classified")
                elif b["name"] == "recorder":
                    sb, sc, sp = _snippet_blocks(b["parameters"]["code"], ns, f"{path.name} snippet")
                    blocks.update(sb)
                    conns += sc
                    problems += sp
            continue
        if b["name"] in GRC_ONLY_BLOCKS:
            continue
        p, probs = _block_params(b["id"], b.get("parameters", {}), ns, f"{path.name} {b['name']}")
        blocks[b["name"]] = (b["id"], p)
        problems += probs
    names = {b["name"] for b in live}
    for src, sp, dst, dp in doc.get("connections", []):
        if src not in names or dst not in names or {src, dst} & set(GRC_ONLY_BLOCKS):
            continue
        if str(sp).isdigit() and str(dp).isdigit():
            conns.append((src, int(sp), dst, int(dp)))
        else:
            msgs.append((src, str(sp), dst, str(dp)))
    return {
        "params": params,
        "blocks": blocks,
        "connections": conns,
        "msg_connections": msgs,
        "problems": problems,
    }


# --- the comparison ---------------------------------------------------------------------
def _same(x, y):
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(map(_same, x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, bool) or isinstance(y, bool):  # True is not 1 here
        return type(x) is type(y) and x == y
    return x == y  # 20 == 20.0: an eng_float parameter written '20' is the CLI's 20.0


def differences(spec, grc):
    """Every way the spec (gensem radio) and the evaluated .grc differ; [] when they agree."""
    out = list(grc["problems"])
    s_blocks = {k: v for k, v in spec["blocks"].items() if k not in CLI_ONLY_BLOCKS}
    for name in sorted(s_blocks.keys() - grc["blocks"].keys()):
        out.append(f"block {name} ({s_blocks[name][0]}) only in gensem radio")
    for name in sorted(grc["blocks"].keys() - s_blocks.keys()):
        out.append(f"block {name} ({grc['blocks'][name][0]}) only in the .grc")
    for name in sorted(s_blocks.keys() & grc["blocks"].keys()):
        (sid, sp), (gid, gp) = s_blocks[name], grc["blocks"][name]
        if sid != gid:
            out.append(f"{name}: block id {sid} (gensem radio) != {gid} (.grc)")
            continue
        full, _ = _block_params(sid, {}, {}, "spec")  # YAML defaults for what the spec omits
        doc = _block_yml(sid)
        unknown = sp.keys() - {p["id"] for p in doc.get("parameters", [])} if doc else set()
        out += [f"{name}: gensem radio sets {k!r}, not a parameter of {sid}" for k in sorted(unknown)]
        full.update(sp)
        for k in sorted(full.keys() | gp.keys()):
            if k not in full or k not in gp or not _same(full[k], gp[k]):
                out.append(
                    f"{name}.{k}: {full.get(k, '<unset>')!r} (gensem radio) != {gp.get(k, '<unset>')!r} (.grc)"
                )
    for key, label in (("connections", "stream"), ("msg_connections", "message")):
        s = {c for c in spec[key] if not {c[0], c[2]} & set(CLI_ONLY_BLOCKS)}
        g = set(grc[key])
        out += [f"{label} connection {c} only in gensem radio" for c in sorted(s - g, key=str)]
        out += [f"{label} connection {c} only in the .grc" for c in sorted(g - s, key=str)]
    return out


def _cli_args(role, device, values=None):
    argv = ["radio", role, "--device", device]
    for dest, v in (values or {}).items():
        flag = "--" + dest.replace("_", "-")
        if isinstance(v, bool):
            argv += [flag] if v else []
        else:
            argv += [flag, str(v)]
    return build_parser().parse_args(argv)


def _grc_path(role, device):
    return FLOWGRAPHS / f"{role}_{device}.grc"


def _default_exceptions(device, grc_params):
    """The CLI values that stand for the .grc's deliberately different defaults."""
    return {
        GRC_TO_CLI.get(p, p): grc_params[p] for (dev, p) in DEFAULT_EXCEPTIONS if dev == device and p in grc_params
    }


def _compare_defaults(role, device, path=None):
    grc = load_grc(path or _grc_path(role, device))
    a = _cli_args(role, device, _default_exceptions(device, grc["params"]))
    return differences(radio.graph_spec(role, a), grc)


# --- tests ------------------------------------------------------------------------------
def _assert_same_graph(diffs):
    assert diffs == [], "\n".join(diffs)


@pytest.mark.parametrize("role, device", GRAPHS)
def test_grc_equals_cli_graph_with_defaults(role, device):
    _assert_same_graph(_compare_defaults(role, device))


@pytest.mark.parametrize("role, device", GRAPHS)
def test_grc_parameters_are_the_cli_flags_and_defaults(role, device):
    """Each .grc parameter is a gensem radio flag with the same default (but the listed
    exceptions); the role's graph flags all have one."""
    grc = load_grc(_grc_path(role, device))
    defaults = _cli_args(role, device)
    assert {GRC_TO_CLI.get(p, p) for p in grc["params"]} == GRC_PARAMS[role]
    for p, value in grc["params"].items():
        dest = GRC_TO_CLI.get(p, p)
        cli = getattr(defaults, dest)
        if (device, p) in DEFAULT_EXCEPTIONS:
            assert not _same(value if not isinstance(cli, bool) else bool(value), cli), (
                f"{p}: listed as an exception but equal to the CLI default: drop the exception"
            )
            continue
        got = bool(value) if isinstance(cli, bool) else value
        assert _same(got, cli), f"{role}_{device}.grc {p} = {value!r}, gensem radio --{dest} default {cli!r}"


def test_every_cli_flag_is_classified():
    """A new gensem radio flag must be a .grc parameter or listed as CLI-only."""
    import argparse

    from gensem.cli.common import add_impairment_args

    imp = argparse.ArgumentParser()
    add_impairment_args(imp, rate_args=False)
    impairment_flags = {a.dest for a in imp._actions} - {"help"}
    dests = set(vars(_cli_args("rx", "usrp")))
    unclassified = dests - GRC_PARAMS["tx"] - GRC_PARAMS["rx"] - set(CLI_ONLY_FLAGS) - impairment_flags
    assert unclassified == set()


@pytest.mark.parametrize("role, device", GRAPHS)
def test_grc_equals_cli_graph_with_every_parameter_changed(role, device):
    """Each flag reaches the same block parameter in both: set every .grc parameter and the
    matching flag to the same non-default value, and compare again."""
    path = _grc_path(role, device)
    params = load_grc(path)["params"]
    overrides, values = {}, {}
    for p, default in params.items():
        dest = GRC_TO_CLI.get(p, p)
        v = CHANGED[dest]
        assert not _same(bool(default) if isinstance(v, bool) else default, v), (p, "CHANGED must differ")
        values[dest] = v
        overrides[p] = int(v) if isinstance(v, bool) else v
    grc = load_grc(path, overrides)
    spec = radio.graph_spec(role, _cli_args(role, device, values))
    _assert_same_graph(differences(spec, grc))
    if role == "rx":  # --record is on here: the recorder snippet was compared
        assert "gensem_sigmf_recorder_0" in spec["blocks"] and "gensem_sigmf_recorder_0" in grc["blocks"]


@pytest.mark.parametrize("role, device", GRAPHS)
def test_hardware_spec_has_only_the_listed_extras(role, device):
    spec = radio.graph_spec(role, _cli_args(role, device))
    assert not set(spec["blocks"]) & set(CLI_OPTIONAL_BLOCKS)
    assert set(spec["blocks"]) & set(CLI_ONLY_BLOCKS) == ({"blocks_null_sink_0"} if role == "rx" else set())
    assert set(spec["blocks"]) <= set(radio.ATTRS)
    for name, (block_id, params) in spec["blocks"].items():
        doc = _block_yml(block_id)
        assert doc is not None, block_id
        assert set(params) <= {p["id"] for p in doc["parameters"]}, name


def _copy_grc(tmp_path, role, device, edit):
    doc = yaml.safe_load(_grc_path(role, device).read_text())
    edit(doc)
    path = tmp_path / f"{role}_{device}.grc"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _block(doc, name):
    return next(b for b in doc["blocks"] if b["name"] == name)


def test_changed_block_parameter_is_detected(tmp_path):
    shutil.copy(_grc_path("tx", "usrp"), tmp_path / "same.grc")
    assert _compare_defaults("tx", "usrp", tmp_path / "same.grc") == []  # a plain copy agrees

    def edit(doc):
        _block(doc, "gensem_semantic_tx_0")["parameters"]["scale"] = "0.3"

    diffs = _compare_defaults("tx", "usrp", _copy_grc(tmp_path, "tx", "usrp", edit))
    assert diffs == ["gensem_semantic_tx_0.scale: 0.15 (gensem radio) != 0.3 (.grc)"]


def test_changed_parameter_default_is_detected(tmp_path):
    def edit(doc):
        _block(doc, "prompt_power")["parameters"]["value"] = "0.3"

    path = _copy_grc(tmp_path, "tx", "hackrf", edit)
    assert _compare_defaults("tx", "hackrf", path) == [
        "gensem_semantic_tx_0.prompt_power: 0.5 (gensem radio) != 0.3 (.grc)"
    ]


def test_changed_connections_and_blocks_are_detected(tmp_path):
    def edit(doc):
        doc["connections"] = [c for c in doc["connections"] if c[1] != "adaptive"]
        _block(doc, "gensem_radio_source_0")["parameters"]["dc_blocker"] = "True"
        doc["blocks"] = [b for b in doc["blocks"] if b["name"] != "gensem_zmq_feedback_sink_0"]

    diffs = _compare_defaults("rx", "hackrf", _copy_grc(tmp_path, "rx", "hackrf", edit))
    assert "block gensem_zmq_feedback_sink_0 (gensem_zmq_feedback_sink) only in gensem radio" in diffs
    assert "gensem_radio_source_0.dc_blocker: None (gensem radio) != True (.grc)" in diffs
    assert (
        "message connection ('gensem_semantic_rx_0', 'adaptive', 'gensem_prbs_ber_sink_0', 'in') "
        "only in gensem radio"
    ) in diffs


@pytest.mark.parametrize("role", ["tx", "rx"])
def test_top_blocks_are_built_from_the_spec(role, monkeypatch):
    """RadioTx / RadioRx make exactly the spec's blocks, with the spec's parameters."""
    made = []
    make = radio._make
    monkeypatch.setattr(
        radio, "_make", lambda block_id, params: made.append((block_id, params)) or make(block_id, params)
    )
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    a = _cli_args(role, "hackrf", {"dry_run": True, "text": "hi", "feedback": f"tcp://127.0.0.1:{port}"})
    tb = (radio.RadioTx if role == "tx" else radio.RadioRx)(a)
    assert tb.spec == radio.graph_spec(role, a)
    assert made == list(tb.spec["blocks"].values())
    for name in tb.spec["blocks"]:
        assert getattr(tb, radio.ATTRS[name]) is not None

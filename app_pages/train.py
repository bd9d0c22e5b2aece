"""Train: dataset, protocol, method with the papers' defaults; a background job with live curves."""

import streamlit as st

from odcore.analysis import sanity
from ui import choice, state, tables, tray, widgets
from ui.presets import METHOD_NOTES
from ui.presets import TRAIN_PRESETS as PRESETS

widgets.intro("Train", "Pick the data, the evaluation protocol and a detector; the parameters start at the "
              "papers' defaults (hover a parameter for its meaning). Training runs as a background job, so you can "
              "leave the page: watch the loss fall and, where labels exist, the test AUROC/AUPRC rise per epoch.")

def _set_protocol(protocol: str, options: dict) -> None:
    """Put a protocol and its options into the widgets (called before they are drawn: callbacks, first run)."""
    import json

    import odcore.data as od

    st.session_state["train_protocol"] = protocol
    st.session_state["train_protocol_options"] = dict(options)
    for k, default in od.protocol_defaults(protocol).items():
        v = options.get(k, default)
        st.session_state[f"popt-{protocol}-{k}"] = json.dumps(v) if isinstance(v, (list, tuple)) else str(v)


@st.cache_resource(show_spinner=False, max_entries=8)
def _builtin(name: str):
    import odcore.data as od

    return od.load(name)


def _fix_protocol(from_method: bool = False) -> None:
    """Replace a protocol the chosen data cannot run by the nearest working one (the message says which option)."""
    from odcore.runs.spec import default_protocol as of_setting
    from odcore.runs.spec import switch_note, working_protocol

    data = st.session_state.get("train_data") or _first_data
    method = st.session_state.get("train_method") or _first_method
    before = st.session_state.get("train_protocol")
    protocol = of_setting(method) if from_method else before or of_setting(method)
    try:
        ds = tables.dataset() if data == "(session dataset)" else _builtin(data)
        choice = working_protocol(ds, method, protocol, {})
        note = switch_note(ds, method, before, choice) if from_method and before else None  # announced before it starts
    except Exception as err:  # noqa: BLE001 - shown as a message
        _set_protocol(protocol, {})
        st.session_state["train_fix"] = ("error", str(err))
        return
    _set_protocol(choice.protocol, choice.options)
    text = "\n\n".join(t for t in (note, choice.message) if t)
    st.session_state["train_fix"] = ("info", text) if text else None


def _apply(name: str) -> None:
    p = PRESETS[name]
    st.session_state["train_data"] = p["data"]
    st.session_state["train_method"] = p["method"]
    _set_protocol(p["protocol"], p.get("protocol_options", {}))
    st.session_state["train_data_options"] = p.get("data_options", {})
    st.session_state["train_fix"] = ("info", f"Preset **{name}** applied: press **Start training**.")
    for k, v in p.get("params", {}).items():  # the widget keys of tabular and of image data
        for suffix in ("", "-image"):
            st.session_state[f"param-{p['method']}-{k}{suffix}"] = v if not isinstance(v, tuple) else str(list(v))


def _setup():
    import odcore.data
    from odcore.models import registry

    return list(odcore.data.builtin_names()), dict(odcore.data.PROTOCOLS), registry


setup = widgets.guarded(_setup)
if setup is None:
    st.stop()
builtins, protocols, registry = setup

with st.expander("Reproduce a paper setting", expanded=False):
    c1, c2 = st.columns([3, 1])
    preset = c1.selectbox("Preset", list(PRESETS), key="train_preset", label_visibility="collapsed")
    c2.button("Apply preset", on_click=_apply, args=(preset,), key="train_apply")

session_ds = tables.dataset()
data_choices = (["(session dataset)"] if session_ds is not None else []) + builtins
methods = registry.available()
proto_list = list(protocols)
_first_data, _first_method = data_choices[0], methods[0]
if "train_protocol" not in st.session_state:  # first visit: a protocol the default data can run
    _fix_protocol(from_method=True)
c1, c2, c3 = st.columns(3)
data = c1.selectbox("Data", data_choices, key="train_data", on_change=_fix_protocol,
                    format_func=lambda d: f"{session_ds.name} (loaded on Data)" if d == "(session dataset)" else d)


def default_protocol(m: str) -> str:
    from odcore.runs.spec import default_protocol as of_setting

    p = of_setting(m)
    return p if p in proto_list else proto_list[0]


method = c2.selectbox("Method", methods, key="train_method", format_func=lambda m: registry.info(m).title,
                      on_change=_fix_protocol, args=(True,))  # a new method starts from its setting's protocol
info = registry.info(method)
if st.session_state.get("train_protocol") not in proto_list:
    st.session_state["train_protocol"] = default_protocol(method)
protocol = c3.selectbox("Protocol", proto_list, key="train_protocol", on_change=_fix_protocol, help="\n".join(
    f"- **{k}**: {v}" for k, v in protocols.items()))
st.caption(f"{info.title} — {info.paper} · setting: {info.setting} · protocol: {protocols.get(protocol, '')}")
fix = st.session_state.get("train_fix")
if fix:
    (st.error if fix[0] == "error" else st.info)(fix[1])
if method in METHOD_NOTES:  # a declared note on this method (ui/presets.py)
    st.caption(METHOD_NOTES[method])

proto_opts = dict(st.session_state.get("train_protocol_options", {}))
import odcore.data as _odata  # noqa: E402 - light after _setup
from odcore.data.protocols import declaration as _protocol_options  # noqa: E402

pcols = st.columns(3)
for i, opt in enumerate(_protocol_options(protocol)):  # each field parsed by the option's declaration
    text = pcols[i % 3].text_input(f"protocol option {opt.name}", value=str(proto_opts.get(opt.name, opt.default)),
                                   key=f"popt-{protocol}-{opt.name}", help=f"{opt.help} ({opt.constraint()})")
    try:
        proto_opts[opt.name] = opt.parse(text)
    except Exception as err:  # noqa: BLE001
        widgets.show_error(err)
proto_opts = {k: v for k, v in proto_opts.items() if k in _odata.protocol_defaults(protocol)}

@st.cache_data(show_spinner=False)
def _is_image_builtin(name: str) -> bool:
    return _odata.load(name).kind == "image"


if data == "(session dataset)":
    is_image = session_ds.kind == "image"
else:
    is_image = bool(widgets.guarded(lambda: _is_image_builtin(data)))
params = {}
with st.expander("Parameters (papers' defaults)", expanded=True):
    table = registry.param_table(method, image=is_image)
    cols = st.columns(3)
    for i, row in enumerate(t for t in table if t["name"] not in ("random_state", "input_shape", "device")):
        name, default, hlp = row["name"], row["default"], row["help"]
        key = f"param-{method}-{name}" + ("-image" if is_image else "")
        col = cols[i % 3]
        if isinstance(default, bool):
            val = col.checkbox(name, value=default, help=hlp, key=key)
        elif isinstance(default, int):
            val = int(col.number_input(name, value=int(st.session_state.get(key, default)), step=1, help=hlp,
                                       key=key))
        elif isinstance(default, float):
            val = float(col.number_input(name, value=float(st.session_state.get(key, default)), format="%g",
                                         help=hlp, key=key))
        else:
            text = col.text_input(name, value=str(st.session_state.get(key, default)), help=hlp, key=key)
            try:
                val = registry.declaration(method)[name].parse(text) if text != str(default) else default
            except Exception as err:  # noqa: BLE001
                widgets.show_error(err)
                val = default
        if val != default:
            params[name] = val
seed = st.number_input("Seed", value=0, step=1, key="train_seed")

def _spec():
    from odcore.runs.spec import RunSpec

    if data == "(session dataset)":
        spec_data, data_options = st.session_state[state.DATA_SPEC], dict(st.session_state[state.DATA_OPTIONS])
    else:
        spec_data, data_options = data, dict(st.session_state.get("train_data_options", {}))
    return RunSpec(data=spec_data, method=method, protocol=protocol, data_options=data_options,
                   protocol_options=proto_opts, params=params, seed=int(seed))


def _start(run, eta_text: str | None) -> None:
    st.session_state["train_pending"] = None
    st.session_state["train_eta"] = eta_text
    widgets.start_job(run, title=f"{method} on {run.name}")


if st.button("Start training", type="primary", key="train_start"):
    from odcore.runs import eta

    spec = _spec()
    with st.spinner("Estimating how long the run takes ..."):  # a few timed steps / subsample fits
        run = widgets.guarded(lambda: state.resolve(spec))  # the request checked once, its data prepared once
        est = widgets.guarded(lambda: eta.estimate(run, store=state.store())) if run is not None else None
    if est is not None and est.needs_confirmation():  # longer than a couple of minutes: ask first
        st.session_state["train_pending"] = (run, est.text(), choice.spec_key(spec))
    elif est is not None:
        _start(run, est.text())
pending = st.session_state.get("train_pending")
if pending and pending[2] != choice.spec_key(_spec()):  # the form changed: the estimate is stale
    st.session_state["train_pending"] = pending = None
if pending:
    st.warning(f"This run will take **{pending[1]}**. Start it anyway? (Fewer epochs or a time_budget make it "
               "shorter.)")
    c1, c2 = st.columns([1, 5])
    if c1.button("Start anyway", key="train_confirm"):
        _start(*pending[:2])
    if c2.button("Not now", key="train_not_now"):
        st.session_state["train_pending"] = None
        st.rerun()


def _live():
    job_id = st.session_state.get("last_job")
    if not job_id:
        return
    try:
        job = state.registry().get(job_id)
    except Exception:  # noqa: BLE001 - the registry restarted: the job is gone, its run is in the store
        return
    st.subheader(f"Job {widgets.plain(job.title, 120)}")
    st.progress(min(max(float(job.progress or 0), 0.0), 1.0),
                text=f"{job.state} · epoch {job.epoch}/{job.epochs or '?'} · {job.elapsed:.0f} s")
    curves = widgets.history_figure(job) if job.history else None  # rebuilt only on a new epoch
    if curves is not None and curves.data:  # nothing to draw for fits without losses (ensemble members)
        st.plotly_chart(curves, key="train_curves")
    if job.active and st.session_state.get("train_eta"):
        st.caption(f"Estimated before it started: {st.session_state['train_eta']}")
    if job.active:
        if st.button("Cancel job", key="train_cancel"):
            state.registry().cancel(job.id, state.owner())
            st.toast(widgets.plain(state.registry().get(job.id).message or "Cancel requested", 300))
        if job.message:
            st.caption(widgets.plain(job.message, 300))
    elif job.state == "failed":
        st.error(widgets.plain(job.error or "the job failed", 500))
    elif job.state == "done":
        st.session_state[state.RUN] = job.run_id
        run = state.store().get(job.run_id)
        m = run.metrics or {}
        cols = st.columns(4)
        for c, k in zip(cols, ("auroc", "auprc", "precision_at_10", "f1")):
            v = m.get(k)
            c.metric(k, "-" if v is None or v != v else f"{v:.3f}")
        if (run.config or {}).get("report"):  # ensemble / auto: what was chosen and why
            choice.show(run.config["report"])
        widgets.warnings(sanity.sanity_warnings(history=job.history, method=run.method))
        st.success(f"Run {job.run_id} is ready: see **Scores**, **Latent map** or **Compare**.")


def _watched() -> list:
    job_id = st.session_state.get("last_job")
    return [state.registry().get(job_id)] if job_id else []


tray.poll("train", _live, _watched)  # polls with back-off while the job runs; one rerun when it ends

"""Train: dataset, protocol, method with the papers' defaults; a background job with live curves."""

import streamlit as st

from odcore.analysis import sanity
from ui import choice, form, state, tables, tray, widgets
from ui.presets import METHOD_NOTES
from ui.presets import TRAIN_PRESETS as PRESETS

widgets.intro("Train", "Pick the data, the evaluation protocol and a detector; the parameters start at the "
              "papers' defaults (hover a parameter for its meaning). Training runs as a background job, so you can "
              "leave the page: watch the loss fall and, where labels exist, the test AUROC/AUPRC rise per epoch.")

SESSION = "(session dataset)"


@st.cache_resource(show_spinner=False, max_entries=8)
def _builtin(name: str):
    import odcore.data as od

    return od.load(name)


def _setup():
    import odcore.data
    from odcore.models import registry

    return list(odcore.data.builtin_names()), dict(odcore.data.PROTOCOLS), registry


setup = widgets.guarded(_setup)
if setup is None:
    st.stop()
builtins, protocols, registry = setup
session_ds = tables.dataset()
data_choices = ([SESSION] if session_ds is not None else []) + builtins
methods = registry.available()
proto_list = list(protocols)


def _data_id(data: str) -> str:
    """What the protocol's widgets are keyed by: a built-in's name, the session table's content."""
    if data != SESSION:
        return data
    memo = st.session_state.setdefault("_train_ds_id", {})
    if id(session_ds) not in memo:
        memo.clear()
        memo[id(session_ds)] = "session-" + session_ds.content_hash()
    return memo[id(session_ds)]


def _memo(key: tuple, fn):
    """``fn()`` once per ``key`` in this session (the protocol checks split the data)."""
    memo = st.session_state.setdefault("_train_checks", {})
    if key not in memo:
        if len(memo) > 64:
            memo.clear()
        try:
            memo[key] = ("ok", fn())
        except Exception as err:  # noqa: BLE001 - shown as a message
            memo[key] = ("error", err)
    return memo[key]


def _suggested(ds, data_id: str, method: str):
    """The protocol and options ``method`` starts from on these data (the nearest one they can run); an unlabelled
    analyst's table starts from the protocol its setting trains tables with (``all``: every row scored, as on the
    Flagged rows page and in ``odcore train``)."""
    from odcore.runs.spec import ANALYST_PROTOCOL, default_protocol, working_protocol

    start = default_protocol(method)
    if getattr(ds, "table", None) is not None and ds.y is None:
        start = ANALYST_PROTOCOL.get(registry.info(method).setting, start)
    return _memo((data_id, method), lambda: working_protocol(ds, method, start, {}))


def _first_method(ds, data_id: str) -> tuple[str, str | None]:
    """The method the page opens on for these data, and why when it is not the first one: an analyst's table gets
    the registry's default for tables; other data the first method that runs on them."""
    if getattr(ds, "table", None) is not None:
        m = registry.recommended("tables")
        return m, (f"Opened on **{registry.info(m).title}**, the default for analysts' tables: it needs no labels "
                   "and ranks every row by how far it strays from its series' expected value.")
    for m in methods:
        if _suggested(ds, data_id, m)[0] == "ok":
            return m, None if m == methods[0] else (
                f"Opened on **{registry.info(m).title}**: the methods above it cannot run on these data.")
    return methods[0], None


def _put_preset(name: str) -> None:
    """Put preset ``name`` into the form's widgets (before they are drawn in this run)."""
    import odcore.data as od
    from odcore.data.protocols import declaration as options_of

    p = PRESETS[name]
    if p["data"] not in data_choices:
        return
    st.session_state["train_data"] = p["data"]
    st.session_state["train_method"] = p["method"]
    ctx = f"{_data_id(p['data'])}-{p['method']}"
    st.session_state[f"train_protocol-{ctx}"] = p["protocol"]
    opts = {**od.protocol_defaults(p["protocol"]), **p.get("protocol_options", {})}
    for opt in options_of(p["protocol"]):
        if opt.name not in form.HIDDEN_OPTIONS:
            form.put(opt, form.key(f"popt-{ctx}-{p['protocol']}", opt.name), opts[opt.name])
    st.session_state["train_data_options"] = p.get("data_options", {})
    decl = registry.declaration(p["method"])
    for suffix, image in (("", False), ("-image", True)):  # the keys of tabular and of image data
        for prm in decl:
            if prm.name not in form.HIDDEN:
                value = p.get("params", {}).get(prm.name, form.default_of(prm, image=image))
                form.put(prm, form.key(f"param-{p['method']}", prm.name, suffix), value)
    st.session_state["train_notice"] = f"Preset **{name}** applied: press **Start training**."


with st.expander("Reproduce a paper setting", expanded=False):
    c1, c2 = st.columns([3, 1])
    preset = c1.selectbox("Preset", list(PRESETS), key="train_preset", label_visibility="collapsed")
    if c2.button("Apply preset", key="train_apply"):
        _put_preset(preset)
notice = st.session_state.pop("train_notice", None)

# every widget below keeps its own state under a stable key; no callbacks copy values between them, so what
# Start sends is what the form shows (the protocol's key names the data and method its default came from)
if st.session_state.get("train_data") not in data_choices:
    st.session_state["train_data"] = data_choices[0]
c1, c2, c3 = st.columns(3)
data = c1.selectbox("Data", data_choices, key="train_data",
                    format_func=lambda d: f"{session_ds.name} (loaded on Data)" if d == SESSION else d)
ds = widgets.guarded(lambda: session_ds if data == SESSION else _builtin(data))
if ds is None:
    st.stop()
data_id = _data_id(data)
opening, why_opening = _first_method(ds, data_id)
if st.session_state.get("train_method") not in methods:
    st.session_state["train_method"] = opening
method = c2.selectbox("Method", methods, key="train_method", format_func=lambda m: registry.info(m).title)
info = registry.info(method)
ctx = f"{data_id}-{method}"
status, suggestion = _suggested(ds, data_id, method)
pkey = f"train_protocol-{ctx}"
if st.session_state.get(pkey) not in proto_list:
    from odcore.runs.spec import default_protocol

    st.session_state[pkey] = suggestion.protocol if status == "ok" else default_protocol(method)
protocol = c3.selectbox("Protocol", proto_list, key=pkey, help="\n".join(
    f"- **{k}**: {v}" for k, v in protocols.items()))
st.caption(f"{info.title} — {info.paper} · setting: {info.setting} · protocol: {protocols.get(protocol, '')}")
if method == opening and why_opening:
    st.caption(why_opening)
if notice:
    st.info(notice)
before = st.session_state.get("_train_shown")  # what the last run of the page showed (a note, never a value)
if status == "ok" and before and before[0] == data_id and before[1] != method:  # a new method on the same data
    from odcore.runs.spec import switch_note

    note = widgets.guarded(lambda: switch_note(ds, method, before[2], suggestion))
    st.session_state["_train_switch"] = (ctx, note)
st.session_state["_train_shown"] = (data_id, method, protocol)
switched = st.session_state.get("_train_switch")
if status == "error":
    widgets.show_error(suggestion)
elif protocol == suggestion.protocol:  # announced before it starts: the protocol it runs under, why, its test set
    note = switched[1] if switched and switched[0] == ctx else None
    text = [t for t in (note, suggestion.message) if t]
    if text:
        st.info("\n\n".join(widgets.plain(t, None) for t in text))
if method in METHOD_NOTES:  # a declared note on this method (ui/presets.py)
    st.caption(METHOD_NOTES[method])
if info.caution:  # a declared warning on the method's defaults (odcore.models.registry.MethodInfo.caution)
    st.warning(info.caution)

import odcore.data as _odata  # noqa: E402 - light after _setup
from odcore.data.protocols import declaration as _protocol_options  # noqa: E402

odecl = list(_protocol_options(protocol))
first = suggestion.options if status == "ok" and protocol == suggestion.protocol else {}
st.caption(f"Options of the **{protocol}** protocol")
opt_values, opt_errors = form.fields(odecl, prefix=f"popt-{ctx}-{protocol}", defaults=first,
                                     skip=form.HIDDEN_OPTIONS)
proto_opts = form.requested(odecl, opt_values)
if not opt_errors and status == "ok" and (protocol, proto_opts) != (suggestion.protocol, suggestion.options):
    import json as _json  # noqa: E402

    from odcore.runs.spec import working_protocol  # noqa: E402

    state_, near = _memo((data_id, method, protocol, _json.dumps(proto_opts, sort_keys=True, default=str)),
                         lambda: working_protocol(ds, method, protocol, proto_opts))
    if state_ == "error":
        widgets.show_error(near)
    elif near.protocol != protocol or near.message:
        st.warning(f"As set, **{protocol}** cannot run on these data: " + widgets.plain(near.message, None))

is_image = ds.kind == "image"
with st.expander("Parameters (papers' defaults)", expanded=True):
    params, param_errors = form.method_fields(method, prefix="param", image=is_image,
                                              clean=_odata.clean_training(protocol, proto_opts))
seed = st.number_input("Seed", value=0, step=1, key="train_seed")

def _spec():
    from odcore.runs.spec import RunSpec

    if data == SESSION:
        spec_data, data_options = st.session_state[state.DATA_SPEC], dict(st.session_state[state.DATA_OPTIONS])
    else:
        spec_data, data_options = data, dict(st.session_state.get("train_data_options", {}))
    return RunSpec(data=spec_data, method=method, protocol=protocol, data_options=data_options,
                   protocol_options=proto_opts, params=params, seed=int(seed))


def _start(run, eta_text: str | None) -> None:
    st.session_state["train_pending"] = None
    st.session_state["train_eta"] = eta_text
    widgets.start_job(run, title=f"{method} on {run.name}")


if opt_errors or param_errors:
    st.caption("Correct the fields marked in red to start.")
# keyed by the form's shape: a click on a Start drawn for another data / method / protocol starts nothing
if form.submit("Start training", "train_start", data_id, method, protocol, type="primary",
               disabled=bool(opt_errors or param_errors)):
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

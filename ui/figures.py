"""A paper figure on a page: "Reproduce figure" shows the shipped teaching run at once; "Retrain live" runs
the same recipe with other settings as a background job (its time said before it starts, results cached
per settings). Everything about a figure comes from its recipe (:mod:`odcore.recipes`)."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from ui import state, widgets

#: a retrain longer than this asks for a confirmation first
CONFIRM_SECONDS = 120.0


def _fmt(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


@st.cache_resource(show_spinner=False, max_entries=64)
def _figures(name: str, key: str, _result) -> Any:
    """The recipe's figures of a result (built once per result; figures are read-only afterwards)."""
    return _result.figures()


def _settings_of(name: str, choice: dict) -> dict:
    from odcore import recipes
    from odcore.recipes import framework

    return framework.resolve(recipes.get(name).training, "teaching", **_kwargs(choice))


def _kwargs(choice: dict) -> dict:
    return {"options": choice.get("options"), "params": choice.get("params"), "seeds": choice.get("seeds"),
            "member_params": choice.get("member_params")}


def _lookup(name: str, choice: dict):
    """The finished result for ``choice`` ({} = the teaching defaults: the shipped run, read without importing
    the detectors), or None."""
    from odcore.recipes import framework

    if not choice:
        ship = framework.shipped(name)
        if ship is not None:
            return ship
    return framework.result(name, "teaching", **_kwargs(choice))


def _base_settings(name: str) -> dict:
    """The teaching settings: from the shipped files when they exist (no detector import), else resolved."""
    from odcore.recipes import framework

    ship = framework.shipped(name)
    return ship.settings if ship is not None else _settings_of(name, {})


def _knob_defaults(recipe, settings: dict) -> dict[str, Any]:
    out = {}
    for k in recipe.training.knobs:
        if k.target == "seed":
            out[k.name] = settings["seeds"][0]
        elif k.target == "option":
            out[k.name] = settings["options"].get(k.name)
        else:
            out[k.name] = next((m["params"][k.name] for key, m in settings["members"].items()
                                if k.name in m["params"] and (not k.members or key in k.members)), None)
    return out


def _choice_from(recipe, values: dict[str, Any]) -> dict:
    choice: dict[str, Any] = {"options": {}, "params": {}, "seeds": None, "member_params": {}}
    for k in recipe.training.knobs:
        v = values.get(k.name)
        if v is None:
            continue
        if k.target == "seed":
            choice["seeds"] = [int(v)]
        elif k.target == "option":
            choice["options"][k.name] = v
        elif k.members:
            for key in k.members:
                choice["member_params"].setdefault(key, {})[k.name] = v
        else:
            choice["params"][k.name] = v
    return choice


def _draw(recipe, res) -> None:
    from odcore.recipes import framework

    for i, fig in enumerate(_figures(recipe.name, framework.settings_key(res.settings) + res.source, res)):
        st.plotly_chart(fig, key=f"fig-{recipe.name}-{i}", width="stretch" if fig.layout.width is None else "content")
    st.caption(recipe.caption)
    budget = recipe.training.budget(res.settings["budget"])
    where = {"shipped": "the teaching run shipped with the package", "cache": "your cached retraining",
             "fresh": "a fresh run"}[res.source]
    what = budget.what if res.source == "shipped" else _describe(recipe, res.settings)
    st.caption(f"Shown: {where} ({what}; trained in {_fmt(res.seconds)} on 2 CPU cores). "
               f"Full budget ({recipe.training.budget('full').what}): `python -m bench.figures {recipe.name}`.")
    verdict_box(res.verdict, res.check.summary)
    if recipe.finding:
        st.info(recipe.finding, icon=":material/info:")


#: how each verdict colour is drawn (green only for the paper's own variant)
_BOXES = {"green": (st.success, ":material/check_circle:"), "orange": (st.warning, ":material/warning:"),
          "red": (st.error, ":material/cancel:")}


def verdict_box(verdict, summary: str) -> None:
    """A figure's verdict in its colour, with the label Home's table shows (in the same colour) and the numbers."""
    box, icon = _BOXES[verdict.colour]
    box(f"**{verdict.label.capitalize()}**: {verdict.headline}. Measured: {summary}.", icon=icon)


def _describe(recipe, settings: dict) -> str:
    vals = _knob_defaults(recipe, settings)
    return ", ".join(f"{k.label.split(' (')[0]} {vals[k.name]}" for k in recipe.training.knobs)


def _retrain(recipe) -> None:

    defaults = _knob_defaults(recipe, _base_settings(recipe.name))
    values = {}
    cols = st.columns(3)
    for i, k in enumerate(recipe.training.knobs):
        d = defaults[k.name]
        is_int = float(k.step).is_integer() and float(k.low).is_integer() and isinstance(d, int)
        kw = dict(min_value=int(k.low) if is_int else float(k.low), max_value=int(k.high) if is_int else float(k.high),
                  value=int(d) if is_int else float(d), step=int(k.step) if is_int else float(k.step),
                  key=f"knob-{recipe.name}-{k.name}", help=k.help or None)
        values[k.name] = cols[i % 3].slider(k.label, **kw)
    choice = {} if values == defaults else _choice_from(recipe, values)
    try:
        settings = _base_settings(recipe.name) if not choice else _settings_of(recipe.name, choice)
    except Exception as err:  # noqa: BLE001 - a refused value is a message
        widgets.show_error(err)
        return
    done = _lookup(recipe.name, choice)
    if done is not None:
        st.info(f"These settings are already trained ({done.source}); showing them costs nothing.")
        if st.button("Show these settings", key=f"show-{recipe.name}"):
            st.session_state[f"fig-{recipe.name}"] = choice
            st.rerun()
        return
    eta, how = _eta(recipe.name, json.dumps(settings, sort_keys=True))
    st.info(f"Retraining with these settings takes about **{_fmt(eta)}** ({how}); it runs in the background.",
            icon=":material/schedule:")
    ok = True
    if eta > CONFIRM_SECONDS:
        ok = st.checkbox(f"Yes, train for about {_fmt(eta)}", key=f"confirm-{recipe.name}")
    if st.button(f"Retrain live (about {_fmt(eta)})", key=f"retrain-{recipe.name}", disabled=not ok):
        spec = json.loads(json.dumps(choice))

        def task(progress, cancel, name=recipe.name, spec=spec):
            from odcore.recipes import worker  # a child process: the app's threads would slow small nets 10x

            return worker.run(name, "teaching", **_kwargs(spec), progress=progress, cancel=cancel)

        st.session_state[f"job-{recipe.name}"] = state.registry().submit_task(
            task, owner=state.owner(), title=f"{recipe.paper} {recipe.figure} (retrain)")
        st.session_state[f"fig-{recipe.name}"] = choice
        st.rerun()


#: starting the child process that retrains (imports of torch, scikit-learn and the data), measured 5-15 s
START_SECONDS = 10.0


def _eta(name: str, settings_json: str) -> tuple[float, str]:
    """Seconds for settings: the simple estimate of :func:`odcore.recipes.framework.estimate_seconds` plus
    starting the child process."""
    from odcore import recipes
    from odcore.recipes import framework

    training, settings = recipes.get(name).training, json.loads(settings_json)
    return (framework.estimate_seconds(training, settings) + START_SECONDS,
            "the teaching run's measured time scaled by epochs and seeds, plus starting the job")


def _job_state(name: str):
    job_id = st.session_state.get(f"job-{name}")
    if not job_id:
        return None
    try:
        return state.registry().get(job_id)
    except Exception:  # noqa: BLE001 - the registry restarted: the job is gone, its result is on disk
        return None


def recipe_panel(name: str) -> None:
    """One paper figure: the Reproduce button, the figure and its check, and live retraining."""
    from odcore import recipes

    recipe = recipes.get(name)
    st.subheader(recipe.label)
    if st.button("Reproduce figure", key=f"repro-{name}", type="primary"):
        st.session_state[f"fig-{name}"] = {}
    choice = st.session_state.get(f"fig-{name}")

    def body() -> None:
        job = _job_state(name)
        if job is not None and job.active:
            st.progress(float(job.progress or 0.0), text=f"retraining ... {job.elapsed:.0f} s"
                        + (f", about {_fmt(job.eta)} left" if job.eta else ""))
        elif job is not None and job.state == "failed":
            st.error(job.error or "the retraining failed")
        if choice is None:
            st.caption("Press **Reproduce figure** to see the shipped teaching run.")
            return
        res = widgets.guarded(lambda: _lookup(name, choice))
        if res is None:
            if job is None or not job.active:
                st.info("These settings are not trained yet: use **Retrain live** below.")
            return
        _draw(recipe, res)

    busy = bool((j := _job_state(name)) and j.active)
    st.fragment(run_every=1.0 if busy else None)(body)()
    with st.expander("Retrain live with other settings"):
        _retrain(recipe)

"""The workbench in a real headless Chromium, on the tiny model: upload a document, build QA pairs with the
rule-based generator, start training, watch the loss chart grow, reload the page and see the same run still
updating, stop it, then chat with base and tuned side by side. Screenshots of every tab go to test-artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from test_ui_api import launch
from workbench.workspace import Workspace

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 180_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (scripts/install-browser.sh "
                                                          "installs Debian's chromium)"),
]

DOCUMENT = """# The Harbour Crane

The Vell harbour crane was built in 1911 by the Vell Iron Works. It could lift 40 tonnes and stood 32 metres tall.
In 1987 the crane was restored by the Eastwharf Heritage Trust. The restoration cost 2 million pounds.
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("ui-browser") / "ws")
    demo, url = launch(ws)
    yield ws, url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def fill_number(page, elem_id: str, value: str) -> None:
    # a number box, or the text box of an optional number (empty = default)
    box = page.locator(f"#{elem_id} input[type=number], #{elem_id} textarea, #{elem_id} input[type=text]").first
    box.fill(value)
    box.press("Tab")


def loss_points(page) -> int:
    return page.evaluate("""() => { const el = document.querySelector('#runs-loss .js-plotly-plot');
        return el && el.data && el.data.length ? el.data[0].x.length : 0; }""")


def wait_points_above(page, n: int) -> int:
    page.wait_for_function(f"""() => {{ const el = document.querySelector('#runs-loss .js-plotly-plot');
        return el && el.data && el.data.length && el.data[0].x.length > {n}; }}""", timeout=TIMEOUT_MS)
    return loss_points(page)


def new_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#data-documents")
    return page


def upload_and_build_qa(page, tmp_path: Path) -> None:
    doc = tmp_path / "harbour_crane.md"
    doc.write_text(DOCUMENT)
    page.locator("#data-files input[type=file]").set_input_files(str(doc))
    page.locator("#data-documents").get_by_text("harbour_crane.md").wait_for()
    row = page.locator("#data-documents .virtual-row", has_text="harbour_crane.md")
    assert "ingested" in row.inner_text()
    shot(page, "data")
    open_tab(page, "QA")
    page.locator("#qa-name input, #qa-name textarea").first.fill("browser-qa")
    page.locator("#qa-start").click()  # the default generator: the fact reader, no model
    page.locator("#qa-message").get_by_text("pairs kept").wait_for()
    choose(page, "qa-source", "sample-corpus/harbour_crane.md")  # pairs about the uploaded document only
    page.locator("#qa-pairs .virtual-row", has_text="Vell Iron Works").first.wait_for()
    shot(page, "qa")


def start_training(page) -> None:
    open_tab(page, "Train")
    choose(page, "train-dataset", "browser-qa")
    choose(page, "train-model", "tiny")
    page.get_by_text("Training settings").click()
    for elem_id, value in (("tc-max_steps", "2000"), ("tc-learning_rate", "0.02"), ("tc-logging_steps", "2"),
                           ("tc-eval_steps", "40"), ("tc-save_steps", "100000"), ("tc-probe_size", "0")):
        fill_number(page, elem_id, value)
    page.locator("#train-command").get_by_text("max_steps=2000").wait_for()
    shot(page, "train")
    page.locator("#train-start").click()
    page.locator("#runs-loss").wait_for(state="visible")


def test_whole_flow_in_the_browser(app, browser, tmp_path):
    ws, url = app
    page = new_page(browser, url)
    upload_and_build_qa(page, tmp_path)
    start_training(page)
    first = wait_points_above(page, 1)
    grown = wait_points_above(page, first)  # the 2-second timer keeps adding points
    run_id = page.locator("#runs-watch input").input_value()
    assert run_id.endswith(tuple("0123456789abcdef")) and (ws.runs / run_id / "config.json").exists()
    shot(page, "runs")

    again = new_page(browser, url)  # a reload: nothing but the run folders tells the page what is running
    open_tab(again, "Runs")
    again.wait_for_function(f"() => document.querySelector('#runs-watch input').value === '{run_id}'")
    after_reload = wait_points_above(again, grown)
    wait_points_above(again, after_reload)
    again.locator("#runs-stop").click()
    again.locator("#runs-header").get_by_text("· stopped").wait_for()
    page.close()

    open_tab(again, "Chat")
    again.wait_for_function(f"() => document.querySelector('#chat-right-side input').value.startsWith('{run_id}')")
    again.locator("#chat-input textarea").fill("Who built the Vell harbour crane?")
    again.locator("#chat-send").click()
    again.wait_for_function("() => document.querySelector('#chat-input textarea').value === ''")
    left = again.locator("#chat-left [data-testid=bot]").inner_text()
    right = again.locator("#chat-right [data-testid=bot]").inner_text()
    assert left.strip() and right.strip() and left != right
    shot(again, "chat")
    open_tab(again, "Evaluate")
    again.wait_for_function(f"() => document.querySelector('#eval-show input').value === '{run_id}'")
    shot(again, "evaluate")
    open_tab(again, "Studies")
    again.locator("#studies-overview").get_by_text("paper-joint-quick").wait_for()
    shot(again, "studies")
    clone_and_delete(again, ws, run_id)


def clone_and_delete(page, ws: Workspace, run_id: str) -> None:
    """Clone the run's settings into Train, then delete the finished QA job after confirming."""
    open_tab(page, "Runs")
    page.locator("#runs-clone").click()
    page.locator("#train-command").get_by_text("max_steps=2000").wait_for()
    qa_run = next(p.name for p in ws.runs.iterdir() if "-qa-" in p.name)
    open_tab(page, "Runs")
    choose(page, "runs-watch", qa_run)
    page.locator("#runs-header").get_by_text(qa_run).wait_for()
    page.locator("#runs-delete").click()
    page.locator("#runs-confirm-delete").click()
    page.locator("#runs-message").get_by_text(f"Deleted {qa_run}").wait_for()
    assert not (ws.runs / qa_run).exists() and (ws.runs / run_id).exists()


def test_teach_in_one_click_and_find_it_again_after_a_reload(app, browser, tmp_path):
    """The Data tab's Teach button: one job from the collection to an evaluated model, its progress line,
    the fact ledger at the end, and the same view after a reload."""
    ws, url = app
    page = new_page(browser, url)
    page.locator("#teach-name input, #teach-name textarea").first.fill("crane-taught")
    choose(page, "teach-model", "tiny")
    page.locator("#teach-start").click()
    page.locator("#teach-status").get_by_text("Teaching").wait_for()
    again = new_page(browser, url)  # a reload finds the running job again
    again.locator("#teach-status").get_by_text("Done.", exact=False).wait_for(timeout=2 * TIMEOUT_MS)
    again.locator("#teach-ledger .virtual-row").first.wait_for()
    assert (ws.datasets / "crane-taught" / "facts.jsonl").is_file()
    shot(again, "teach")
    again.locator("#teach-chat").click()  # the path ends on the chat: the taught model beside its base
    # the Chat tab's widgets exist once the tab is shown
    again.wait_for_function("""() => { const r = document.querySelector('#chat-right-side input');
        const l = document.querySelector('#chat-left-side input');
        return r && l && r.value.endsWith('· tuned') && l.value.endsWith('· base'); }""")
    right = again.locator("#chat-right-side input").input_value()
    assert "crane-taught" in right or (ws.runs / right.split(" · ")[0]).is_dir()
    again.locator("#chat-right-info").get_by_text("lora", exact=False).wait_for()  # the tuned run, described
    shot(again, "teach-chat")
    page.close()
    again.close()


def no_error_toast(page) -> None:
    page.wait_for_timeout(1500)  # a load handler's error appears as a toast within a moment
    errors = page.locator(".toast-body.error, .toast-wrap .error")
    assert errors.count() == 0, errors.all_inner_texts()


def test_the_default_path_untouched_starts_training(app, browser):
    """Open every accordion of the Train tab, change nothing but the dataset and the (small) model, start."""
    from workbench import jobs
    from workbench.rundir import RunDir

    ws, url = app
    page = new_page(browser, url)
    open_tab(page, "Train")
    choose(page, "train-dataset", "sample-qa")
    choose(page, "train-model", "tiny")
    for title in ("Training settings", "Settings as YAML"):  # "Method parameters" is open already
        page.get_by_text(title, exact=True).click()
    page.locator("#train-start").click()
    page.locator("#runs-header").get_by_text("sample-qa", exact=False).or_(
        page.locator("#runs-header").get_by_text("lora", exact=False)).first.wait_for()
    no_error_toast(page)
    run_id = page.locator("#runs-watch input").input_value()
    run = RunDir(ws.runs / run_id)
    train = run.read_config()["train"]
    assert train["model"] == "tiny" and train.get("learning_rate") in (None, 1e-3)  # the method's default
    jobs.stop(run)
    jobs.wait(run, timeout=120)
    page.close()


def test_qa_and_evaluate_tabs_follow_their_running_jobs_after_a_reload(app, browser):
    """A job started before the page loads (as after a reload) is followed to its end in its own tab."""
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).resolve().parent))
    from helpers import train_tiny, write_qa_dataset

    from workbench import launch
    from workbench.config import GenParams, QAGenConfig

    ws, url = app
    qa_job = launch.start_qa(ws, [ws.root / "corpora" / "sample-corpus"], "reload-qa",
                                QAGenConfig(strategy="llm", model="tiny", max_new_tokens=320, pairs_per_passage=3))
    page = new_page(browser, url)
    open_tab(page, "QA")
    page.locator("#qa-message").get_by_text(qa_job.id, exact=False).wait_for()
    no_error_toast(page)
    shot(page, "qa-reattached")
    page.locator("#qa-message").get_by_text("pairs kept").wait_for(timeout=2 * TIMEOUT_MS)

    data = write_qa_dataset(ws.datasets / "reload-districts")
    run = train_tiny(ws, data, "reload-eval-run", max_steps=8)
    eval_job = launch.start_eval(ws, run.path, gen=GenParams(max_new_tokens=48))
    again = new_page(browser, url)
    open_tab(again, "Evaluate")
    again.locator("#eval-message").get_by_text(eval_job.id, exact=False).wait_for()
    no_error_toast(again)
    again.locator("#eval-message").get_by_text("finished", exact=False).wait_for(timeout=2 * TIMEOUT_MS)
    shot(again, "evaluate-reattached")
    page.close()
    again.close()


def test_a_page_load_while_a_study_from_a_saved_spec_runs_shows_no_error(app, browser):
    import os

    import yaml

    from workbench import jobs
    from workbench.studies import specs

    ws, url = app
    spec = {"name": "browser-grid", "data": "sample", "models": ["tiny"], "sizes": [1.0], "seeds": [1],
            "baseline": "lora", "train": {"max_steps": 4, "eval_steps": 0, "probe_size": 0},
            "variants": [{"name": "lora", "method": "lora", "params": {"rank": 2, "targets": "attention"}}],
            "eval": {"limit": 3, "probe": False}}
    page = new_page(browser, url)  # the page is built before the spec exists
    key = specs.save_workspace_spec(ws, "browser-grid", yaml.safe_dump(spec))
    job = jobs.create_run(ws, "study", {"study": {"spec": specs.spec_source(ws, key), "quick": False},
                                        "needs_accelerator": False}, label="study-browser-grid")
    job.write_status(state="running", pid=os.getpid(), step=0, total_steps=1)
    try:
        again = new_page(browser, url)
        open_tab(again, "Studies")
        again.wait_for_function("() => document.querySelector('#studies-spec input').value.includes('browser-grid')")
        no_error_toast(again)
        shot(again, "studies-running")
        again.close()
    finally:
        job.write_status(state="stopped", pid=None)
        page.close()

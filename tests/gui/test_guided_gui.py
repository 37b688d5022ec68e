"""Issue 15 in the app: the mode choice (model / best / guided) in the Name and Batch views, guided naming
shown as draft → rewrite with a character diff, and the wizard training a guided model from a file's
input columns that then names in guided mode. Real RDKit, OPSIN, rule-based workers, SQLite and Qt; tiny
random models, whose rewrites never verify, so the verified draft is the name (asserted, not assumed)."""
from __future__ import annotations

import csv
import json

import pytest

CHLOROBENZAMIDE = "ClC1=CC=C(C=C1)C(=O)N"
# smiles, openclatura-style draft (the file's "Rule" column), PubChem-style name
ROWS = [("CC(=O)Oc1ccccc1C(=O)O", "2-(acetyloxy)benzoic acid", "2-acetyloxybenzoic acid"),
        ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", "2-(4-(2-methylpropyl)phenyl)propanoic acid",
         "2-[4-(2-methylpropyl)phenyl]propanoic acid"),
        ("OC(=O)c1ccc(O)cc1", "4-hydroxybenzoic acid", "4-hydroxybenzoic acid"),
        ("CN1CCC(CC1)Oc1ccccc1", "1-methyl-4-phenoxypiperidine", "1-methyl-4-phenoxypiperidine"),
        ("CCOC(=O)c1ccc(N)cc1", "ethyl 4-aminobenzoate", "ethyl 4-aminobenzoate"),
        ("O=C(O)c1ccccc1O", "2-hydroxybenzoic acid", "2-hydroxybenzoic acid"),
        ("Cc1ccc(cc1)S(=O)(=O)N", "4-methylbenzene-1-sulfonamide", "4-methylbenzenesulfonamide"),
        ("C1CCN(CC1)C(=O)c1ccccc1", "phenyl(piperidin-1-yl)methanone", "phenyl(piperidin-1-yl)methanone"),
        ("OCc1ccc(Cl)cc1", "(4-chlorophenyl)methanol", "(4-chlorophenyl)methanol"),
        ("Nc1ccc(cc1)C(=O)O", "4-aminobenzoic acid", "4-aminobenzoic acid"),
        ("CC(=O)Nc1ccc(O)cc1", "N-(4-hydroxyphenyl)acetamide", "N-(4-hydroxyphenyl)acetamide"),
        ("COc1ccc(cc1)C=O", "4-methoxybenzaldehyde", "4-methoxybenzaldehyde"),
        ("C1COCCN1c1ccccc1", "4-phenylmorpholine", "4-phenylmorpholine"),
        ("Clc1ccc(cc1)C(=O)O", "4-chlorobenzoic acid", "4-chlorobenzoic acid")]


class Named:
    """Counts the results a naming view shows, to wait for the next one."""

    def __init__(self, view):
        self.view, self.seen = view, []
        view.named.connect(lambda o: self.seen.append(o))

    def wait(self, qtbot, count: int, timeout: int = 240_000):
        qtbot.waitUntil(lambda: len(self.seen) >= count and not self.view.busy, timeout=timeout)
        return self.seen[-1].result


@pytest.fixture
def no_guided_model(tmp_path, monkeypatch):
    """The shipped guided model absent, whether or not this checkout has one."""
    monkeypatch.setenv("CHEMNAMER_GUIDED_MODEL", str(tmp_path / "no-guided-model"))


def _next(wiz, qtbot, page):
    qtbot.waitUntil(lambda: wiz.currentPage().isComplete(), timeout=120_000)
    wiz.next()
    assert wiz.currentPage() is page


def test_guided_mode_without_a_guided_model_still_names(home, window, qtbot, tmp_path, no_guided_model):
    """The guided model missing: the verified draft, with a note, in the Name view and in a batch."""
    view = window.naming
    named = Named(view)
    view.mode_choice.set_mode("guided")
    view.set_input("CN1CCC(CC1)Oc1ccccc1")
    r = named.wait(qtbot, 1)
    assert (r.mode, r.chosen_from, r.verified) == ("guided", "rule_based", True)
    assert r.name == r.reference.rule_based and r.reference.rule_based_namer in ("openclatura", "nispo")
    assert "guided model unavailable" in r.note and view.note.isVisible()
    assert view.gen_name.text() == r.name
    assert f"the verified rule-based draft ({r.reference.rule_based_namer})" in view.gen_info.text()
    assert view.guided_card.isVisible()
    draft, badge, by = view.guided_rows["draft"]
    assert draft.text() == r.name and badge.text() == "✓ verified" and by.text() == f"by {r.reference.rule_based_namer}"
    rewrite, _, why = view.guided_rows["rewrite"]
    assert rewrite.text() == "–" and "guided model is not available" in why.text()
    assert "The verified draft is the name shown" in view.guided_status.text()
    assert view.cands.item(0, 0).text() == "no guided model: the verified draft is used"

    # PubChem's converted current-style name, the table's own one line below it
    view.set_input("OC(=O)c1ccc(O)cc1")
    r = named.wait(qtbot, 2)
    assert r.reference.pubchem == "4-hydroxybenzoic acid" and r.reference.pubchem_original == "4-oxidanylbenzoic acid"
    name, _, extra = view.ref_rows["pubchem"]
    assert name.text() == "4-hydroxybenzoic acid"
    assert extra.text().splitlines()[0] == "as in the table: 4-oxidanylbenzoic acid"

    # model mode: no guided card
    view.mode_choice.set_mode("model")
    r = named.wait(qtbot, 3)
    assert r.mode == "model" and not view.guided_card.isVisible()

    # the Batch view offers the same choice, remembered on its own
    batch = window.batch
    assert batch.mode_choice.mode() == "model"
    batch.mode_choice.set_mode("guided")
    few = tmp_path / "few.csv"
    few.write_text(f"smiles,id\n{CHLOROBENZAMIDE},a\nC1CC,b\n", encoding="utf-8")
    window.show_view("batch")
    with qtbot.waitSignal(batch.finished, timeout=240_000):
        assert batch.start(str(few))
    first, bad = batch.model.rows
    assert (first.result.mode, first.result.chosen_from, first.result.name) == ("guided", "rule_based",
                                                                                  "4-chlorobenzamide")
    assert "unclosed ring" in bad.problem
    from chemnamer.gui.batch_view import BatchView

    again = BatchView(window.session)
    qtbot.addWidget(again)
    assert again.mode_choice.mode() == "guided" and view.mode_choice.mode() == "model"


def test_diff_of_a_rewrite_is_rendered(home, window):
    """A verified rewrite of a verified draft: deletions struck in red, insertions green, counted."""
    from chemnamer.gui import tasks
    from chemnamer.naming import CandidateResult, NamingResult, References
    from chemnamer.textdiff import char_diff

    view = window.naming
    draft, rewrite = "2-((4-(tert-butyl)phenyl)methyl)pyridine", "2-[[4-(tert-butyl)phenyl]methyl]pyridine"
    result = NamingResult(input="CC(C)(C)c1ccc(Cc2ccccn2)cc1", smiles="CC(C)(C)c1ccc(Cc2ccccn2)cc1", mode="guided",
                          name=rewrite, verified=True, score=-0.05, chosen_from="guided", model="guided",
                          candidates=[CandidateResult(rewrite, -0.05, True, kind="verified"),
                                      CandidateResult(draft, -0.4, True, kind="verified")],
                          reference=References(rule_based=draft, rule_based_verified=True,
                                               rule_based_namer="openclatura"))
    view.show_outcome(tasks.outcome_of(result))
    assert view.guided_card.isVisible()
    assert view.guided_rows["rewrite"][0].text() == rewrite and view.guided_rows["rewrite"][1].text() == "✓ verified"
    assert view.guided_rows["rewrite"][2].text() == "rewrite 1 of 2 (beam search)"
    assert "The rewrite is the name shown" in view.guided_status.text()
    assert "8 characters changed" in view.guided_status.text()
    assert view.gen_info.text().startswith("the guided model's rewrite")
    # the diff shows both sides: every character of the draft and of the rewrite, in order
    shown = view.guided_diff.toPlainText()
    assert shown == "".join(text for _, text in char_diff(draft, rewrite))
    deleted = [t for op, t in char_diff(draft, rewrite) if op == "delete"]
    inserted = [t for op, t in char_diff(draft, rewrite) if op == "insert"]
    assert "".join(deleted) == "(())" and "".join(inserted) == "[[]]"
    html = view.guided_diff.toHtml()
    assert html.count("line-through") == len(deleted)  # each deletion struck through
    assert html.count("#1e7b34") == len(inserted)  # each insertion green


def test_wizard_trains_a_guided_model_that_names_in_guided_mode(home, window, qtbot, tmp_path, no_guided_model):
    """A file with smiles, Rule and name columns: the target is 'name', the first input 'smiles', and
    'Rule' becomes {rule}; a tiny model trains a few steps; made active, it names in guided mode."""
    src = tmp_path / "guided.csv"
    with src.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "smiles", "Rule", "name"])
        w.writerows((i, s, rule, name) for i, (s, rule, name) in enumerate(ROWS))
    wiz = window.open_wizard()
    d = wiz.data_page
    d.set_file(str(src))
    qtbot.waitUntil(lambda: d.preview.rowCount() == 8, timeout=60_000)
    assert (d.source_col.currentText(), d.target_col.currentText()) == ("smiles", "name")
    assert d.extra_columns() == ["Rule"]  # a rule column is offered checked
    d.set_extra_columns(["id", "Rule"])
    assert d.extra_columns() == ["id", "Rule"] and d.input_names() == {"id": "id", "Rule": "rule"}
    d.set_extra_columns(["Rule"])
    assert [d.extra_cols.item(i).text() for i in range(d.extra_cols.count())] == [
        "id", "smiles", "Rule  →  {rule}", "name"]
    _next(wiz, qtbot, wiz.filter_page)

    f = wiz.filter_page
    for check in f._checks():
        check.setChecked(False)  # small molecules: the paper's filters would drop most
    f.n_valid.setValue(2)
    f.n_test.setValue(2)
    qtbot.waitUntil(lambda: f.counts is not None and not f.counting.running and not f._timer.isActive(), timeout=120_000)
    assert f.counts["sizes"] == {"train": len(ROWS) - 4, "valid": 2, "test": 2}
    _next(wiz, qtbot, wiz.format_page)

    fmt = wiz.format_page
    fmt.preset.setCurrentIndex(1)  # "SMILES: {source}" / "\nIUPAC: ", with a line for the Rule input
    assert fmt.instruction_text() == "SMILES: {source}\nRule: {rule}"
    assert fmt.instruction.text() == "SMILES: {source}\\nRule: {rule}"  # one line, \n shown escaped
    assert "{rule} ← Rule" in fmt.inputs_hint.text()
    sample = f.counts["sample"][0]
    assert f"SMILES: {sample[0]}\nRule: {sample[2]['rule']}\nIUPAC: {sample[1]}" in fmt.preview.toPlainText()
    fmt.set_instruction("SMILES: {source}\nDraft: {draft}")  # not an input of this file: said, not trained
    assert "{draft} is not an input" in fmt.error.text() and not fmt.isComplete()
    fmt.set_instruction("SMILES: {source}\nRule: {rule}")
    assert fmt.isComplete()
    _next(wiz, qtbot, wiz.model_page)

    m = wiz.model_page
    m.base.setCurrentIndex(m.base.findData("tiny"))
    m.device.setCurrentText("cpu")
    _next(wiz, qtbot, wiz.hyper_page)
    h = wiz.hyper_page
    h.name.setText("guided-smoke")
    h.lr.setText("3e-3")
    h.batch.setValue(4)
    h.epochs.setValue(1)
    h.eval_limit.setValue(2)
    h.threads.setValue(1)
    _next(wiz, qtbot, wiz.run_page)
    cfg = wiz.config()
    assert cfg["data"]["extra_columns"] == ["Rule"] and cfg["format"]["instruction"] == "SMILES: {source}\nRule: {rule}"

    with qtbot.waitSignal(wiz.controller.ended, timeout=480_000) as ended:
        wiz.run_page.start_button.click()
    status, result = ended.args
    assert status == "completed", result
    model_id = result["model_id"]
    from chemnamer.model import loading

    meta = loading.read_meta(loading.resolve(model_id).path)
    assert meta["template"]["instruction"] == "SMILES: {source}\nRule: {rule}"
    assert meta["task"]["inputs"] == {"rule": "Rule"} and loading.is_guided(model_id)
    _next(wiz, qtbot, wiz.finish_page)
    assert "guided" in wiz.finish_page.text.text() and "--mode guided" in wiz.finish_page.text.text()

    # made active from the wizard: the session puts it in the guided slot, the Name view goes guided
    view = window.naming
    named = Named(view)
    session = window.session
    with qtbot.waitSignal(session.namer_changed, timeout=240_000):
        wiz.accept()
    assert session.guided_active and session.model_id == model_id and session.namer.guided_error is None
    assert view.mode_choice.mode() == "guided" and f"{model_id} (guided)" in window.model_status.text()
    assert window.batch.mode_choice.mode() == "guided"
    view.set_input(CHLOROBENZAMIDE)
    r = named.wait(qtbot, 1)
    assert (r.mode, r.model) == ("guided", model_id)
    assert r.reference.rule_based == "4-chlorobenzamide" and r.reference.rule_based_verified
    # the tiny model's rewrites (if any) are junk: each checked by OPSIN, none verifies
    assert all(c.verified is False for c in r.candidates)
    assert (r.name, r.verified, r.chosen_from) == ("4-chlorobenzamide", True, "rule_based")
    assert "no rewrite" in r.note and "guided model unavailable" not in r.note
    assert "The verified draft is the name shown" in view.guided_status.text()
    assert view.guided_rows["draft"][0].text() == "4-chlorobenzamide"
    if r.candidates:  # the junk rewrite is shown beside the draft, with what it changed
        assert view.guided_rows["rewrite"][0].text() == r.candidates[0].name
        assert view.guided_rows["rewrite"][1].text() == "✗ not verified"
        assert "line-through" in view.guided_diff.toHtml() or "font-weight" in view.guided_diff.toHtml()
    # the history keeps it as a guided naming by that model
    from chemnamer.store import history

    assert [(row["mode"], row["model_id"], row["name"]) for row in history.query_history(limit=10)
            if row["input"] == CHLOROBENZAMIDE] == [("guided", model_id, "4-chlorobenzamide")]
    assert json.dumps(r.to_json())  # plain data throughout

"""The GUI's plain task functions (no Qt): what the views show is computed here."""
from __future__ import annotations

import pytest

from chemnamer.gui import runs_tasks, tasks
from chemnamer.naming import CandidateResult, NamingResult, References


def _result():
    return NamingResult(
        input="CC(=O)N[C@@H](CS)C(=O)O", smiles="CC(=O)N[C@@H](CS)C(=O)O", inchikey="PWKSKIMOESPYIA-BYPYZUCNSA-N",
        name="(2R)-2-acetamido-3-sulfanyl-propanoic acid", verified=True, score=-0.09, chosen_from="model",
        candidates=[CandidateResult("(2S)-2-acetamido-3-sulfanyl-propanoic acid", -0.05, False),
                    CandidateResult("(2R)-2-acetamido-3-sulfanyl-propanoic acid", -0.09, True)],
        reference=References(pubchem="(2R)-2-acetamido-3-sulfanyl-propanoic acid", pubchem_verified=True))


def test_agreement_and_metrics_are_about_the_shown_name():
    r = _result()
    out = tasks.outcome_of(r)
    assert out.generated == r.name  # the verified choice, not the top-scoring wrong-stereo candidate
    assert out.agreement == {"same_string": True, "same_structure": True}
    assert out.compare["exact"] and out.compare["levenshtein"] == 1.0 and out.compare["bleu"] == pytest.approx(1.0)
    assert out.formula == "C5H9NO3S" and out.svg.lstrip().startswith("<?xml")
    r.reference.pubchem = None
    assert r.agreement(r.name) == {"same_string": None, "same_structure": None}


def test_history_record_round_trip():
    r = _result()
    rec = {**r.to_record(), "id": 7}
    back = NamingResult.from_record(rec)
    assert back.name == r.name and back.candidates[1].verified is True and back.id == 7
    assert back.reference.pubchem == r.reference.pubchem and back.reference.pubchem_verified is True


def test_config_round_trip_and_resume_request(tmp_path):
    from chemnamer.recipe import RunConfig, config_from_dict

    d = RunConfig().to_dict()
    d["model"]["method"], d["train"]["lr"], d["_info"] = "lora", 1e-4, {"ignored": True}
    cfg = config_from_dict(d)
    assert cfg.model.method == "lora" and cfg.train.lr == 1e-4
    with pytest.raises(FileNotFoundError):
        runs_tasks.resume_request({"id": 3, "config": d, "output_dir": str(tmp_path / "gone")})
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        runs_tasks.resume_request({"id": 3, "config": d, "output_dir": str(tmp_path)})


def test_format_duration():
    assert [tasks.format_duration(x) for x in (None, 5, 75, 7300)] == ["–", "5 s", "1 min 15 s", "2 h 01 min"]

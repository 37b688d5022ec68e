"""The lean decoder must find what Hugging Face `generate` finds (it only exists to be faster).

Both sides run the shipped default model's real weights on real molecules: transformers'
`generate` is called directly here, with the same num_beams / num_return_sequences /
max_new_tokens / early_stopping / length_penalty, and whole candidate lists are compared (tokens,
order, finished or cut off), scores within float noise.
"""
import pytest

from chemnamer.model import generate as generation
from chemnamer.model.fastllama import FastLlama, supported
from chemnamer.model.generate import EARLY_STOPPING, MAX_NEW_TOKENS, Generator, token_budget

# Real molecules of many sizes, written the way the model reads them (PubChem's Kekulé SMILES).
MOLECULES = [
    "CCCCCCC(=O)Cl", "CC(=O)OC1=CC=CC=C1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)CC1=CC=C(C=C1)C(C)C(=O)O",
    "CC(=O)NC1=CC=C(C=C1)O", "C1=CC=C(C=C1)C(=O)O", "CCOC(=O)C1=CC=CC=C1", "CCN(CC)CC", "C1CCC(CC1)N",
    "C(C(=O)O)C(CC(=O)O)(C(=O)O)O", "CC(C)(C)OC(=O)N", "CC1=CC=C(C=C1)S(=O)(=O)N", "COC1=CC=C(C=C1)C=O",
    "CCCCCCCCCCCCCCCC(=O)O", "C1=CC=C(C=C1)CC(C(=O)O)N", "C1CCOC1", "CC(=O)CC(=O)C", "C1=CC(=CC=C1Cl)Cl",
    "CN(C)C=O", "C(C(CO)O)O", "C1=CC=NC=C1", "CC1=CC(=O)C2=CC=CC=C2C1=O", "C1=CC(=CN=C1)C(=O)O",
    "CC(C)NCC(COC1=CC=CC2=CC=CC=C21)O", "CC12CCC3C(C1CCC2O)CCC4=CC(=O)CCC34C",
]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def shipped():
    """The default model through transformers (for `generate`) and the lean decoder on the same weights."""
    from chemnamer.model import loading

    loaded = loading.load("default", device="cpu")
    gen = Generator.from_loaded(loaded)
    return loaded.model, gen, FastLlama.from_model(loaded.model)


def _hf_beams(model, gen, ids, mask, width, max_new, beams, early_stopping=EARLY_STOPPING):
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new, do_sample=False,
                         num_beams=beams, num_return_sequences=beams, early_stopping=early_stopping,
                         length_penalty=1.0, eos_token_id=gen.eos_id, pad_token_id=gen.pad_id,
                         output_scores=True, return_dict_in_generate=True)
    seqs, scores = out.sequences[:, width:].tolist(), out.sequences_scores.tolist()
    rows = []
    for r in range(ids.shape[0]):
        hyps = []
        for j in range(r * beams, (r + 1) * beams):
            seq = seqs[j]
            complete = gen.eos_id in seq
            hyps.append((seq[:seq.index(gen.eos_id)] if complete else seq, scores[j], complete))
        rows.append(hyps)
    return rows


def _same(fast_rows, hf_rows, molecules, tol=2e-3):
    """Whole lists equal: tokens, order and finished/cut off; scores within float noise."""
    assert len(fast_rows) == len(hf_rows) == len(molecules)
    for mol, fast, hf in zip(molecules, fast_rows, hf_rows):
        assert [(h.tokens, h.complete) for h in fast] == [(t, c) for t, _, c in hf], mol
        assert [h.score for h in fast] == pytest.approx([s for _, s, _ in hf], abs=tol), mol


def test_supported_and_used(shipped):
    model, gen, _ = shipped
    assert supported(model)
    assert gen._fast() is not None


@pytest.mark.parametrize("beams", [4, 8])
def test_beam_search_equals_generate_on_the_shipped_model(shipped, beams):
    """25 molecules in batches of mixed prompt lengths: rows close at different steps and leave the
    batch, which must not change any row's result."""
    model, gen, fast = shipped
    batch = 13  # two batches
    for i in range(0, len(MOLECULES), batch):
        chunk = MOLECULES[i:i + batch]
        ids, mask, width = gen._batch(chunk)
        hf = _hf_beams(model, gen, ids, mask, width, 64, beams)
        _same(fast.beam(ids, mask, 64, gen.eos_id, beams, 1.0, EARLY_STOPPING), hf, chunk)
        finished = [h[2] for row in hf for h in row]  # at 64 tokens nearly every name here finishes, so
        assert sum(finished) >= 0.9 * len(finished)  # finished names are what is compared, not cut-offs


@pytest.mark.parametrize("early_stopping", [m for m in (True, False, "never") if m is not EARLY_STOPPING])
def test_other_early_stopping_modes_equal_generate(shipped, early_stopping):
    model, gen, fast = shipped
    chunk = MOLECULES[:6]
    ids, mask, width = gen._batch(chunk)
    hf = _hf_beams(model, gen, ids, mask, width, 40, 4, early_stopping)
    _same(fast.beam(ids, mask, 40, gen.eos_id, 4, 1.0, early_stopping), hf, chunk)


def test_cut_off_hypotheses_equal_generate(shipped):
    """A budget shorter than the names: HF keeps the top beams at max length, cut off; so must the
    fast decoder (and the Generator says which ones are)."""
    model, gen, fast = shipped
    chunk = ["CCCCCCC(=O)Cl", "CC(C)NCC(COC1=CC=CC2=CC=CC=C21)O", "CCN(CC)CC"]
    ids, mask, width = gen._batch(chunk)
    hf = _hf_beams(model, gen, ids, mask, width, 5, 4)
    _same(fast.beam(ids, mask, 5, gen.eos_id, 4, 1.0, EARLY_STOPPING), hf, chunk)
    assert any(not h[2] for row in hf for h in row)  # the test does exercise cut-off hypotheses
    hyps = gen.hypotheses(chunk, beams=4, max_new_tokens=5)
    names = gen.generate(chunk, beams=4, max_new_tokens=5)
    for row, hf_row, cands in zip(hyps, hf, names):
        assert [ok for _, _, ok in row] == [ok for _, _, ok in hf_row]
        assert [c.name for c in cands] == list(dict.fromkeys(n for n in (gen.decode(t) for t, _, _ in row) if n))


def test_heptanoyl_chloride_with_four_beams(shipped):
    """Issue 16: the old fast path closed the row on 4 finished hypotheses taken from all 8 ranks and
    named this "octanoyl chloride"; `generate` ranks heptanoyl chloride first."""
    _, gen, _ = shipped
    cands = gen.generate(["CCCCCCC(=O)Cl"], beams=4)[0]
    assert cands[0].name == "heptanoyl chloride"
    assert cands[0].score > cands[1].score + 0.1 and len(cands) == 4  # clearly first, not a near tie
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)


def test_greedy_equals_generate_and_scores_are_the_mean_log_prob(shipped):
    model, gen, fast = shipped
    ids, mask, width = gen._batch(MOLECULES)
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=64, do_sample=False,
                         eos_token_id=gen.eos_id, pad_token_id=gen.pad_id, output_scores=True,
                         return_dict_in_generate=True)
    trans = model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
    finished = 0
    for r, hyps in enumerate(fast.greedy(ids, mask, 64, gen.eos_id)):
        (h,) = hyps
        ref = out.sequences[r, width:].tolist()
        if gen.eos_id in ref:  # finished: the name, and its score counts the EOS
            n = ref.index(gen.eos_id)
            assert h.complete and h.tokens == ref[:n], MOLECULES[r]
            assert h.score == pytest.approx(float(trans[r, :n + 1].mean()), abs=2e-3)
        else:  # cut off at the budget (the default's greedy steroid name runs past 64 tokens)
            assert not h.complete and h.tokens == ref and len(ref) == 64, MOLECULES[r]
            assert h.score == pytest.approx(float(trans[r].mean()), abs=2e-3)
        finished += h.complete
    assert finished >= 0.9 * len(MOLECULES)  # finished names are what is mostly compared


def test_generator_paths_agree_with_per_row_budgets(shipped):
    """Generator on the fast decoder and on `generate` (a per-row budget as a stopping criterion):
    same hypotheses for every row, each within its own budget."""
    model, gen, _ = shipped
    slow = Generator(model, gen.tokenizer, gen.vocab, gen.template)
    slow.use_fast = False
    chunk = MOLECULES[:10]
    for beams in (1, 4):
        a, b = gen.hypotheses(chunk, beams), slow.hypotheses(chunk, beams)
        for mol, x, y in zip(chunk, a, b):
            assert [(t, c) for t, _, c in x] == [(t, c) for t, _, c in y], mol
            assert [s for _, s, _ in x] == pytest.approx([s for _, s, _ in y], abs=2e-3)
            assert all(len(t) + c <= token_budget(len(gen.encode(mol))) for t, _, c in x)


def test_token_budget_holds_every_validation_name():
    """The per-size budget, fitted on training + validation names, must not cut any validation name
    (EOS counted) of the default recipe, and stays under the hard cap."""
    from chemnamer.model import loading
    from chemnamer.data.build import build_splits
    from chemnamer.recipe import load_recipe
    from chemnamer.paths import REPO_ROOT

    _, valid, _, _ = build_splits(load_recipe(REPO_ROOT / "training" / "recipes" / "default.toml").data)
    gen = Generator.from_loaded(loading.load("default", device="cpu", lite=True))
    assert len(valid) == 200
    slack = [token_budget(len(gen.encode(p.source))) - (len(gen.encode(p.target)) + 1) for p in valid]
    assert min(slack) >= 0, min(slack)
    assert max(token_budget(n) for n in range(1, 1000)) == MAX_NEW_TOKENS
    # a budget that grows with size: a small molecule does not get a large one's allowance
    assert token_budget(10) < token_budget(40) < token_budget(80)


def test_early_stopping_setting_reaches_the_decoder(shipped, monkeypatch):
    """generate.EARLY_STOPPING is read at call time (training/choose_beams.py compares settings)."""
    _, gen, _ = shipped
    fast = gen._fast()
    seen = []
    real = fast.beam

    def spy(*args, **kwargs):
        seen.append(args[6] if len(args) > 6 else kwargs.get("early_stopping"))
        return real(*args, **kwargs)

    monkeypatch.setattr(fast, "beam", spy)
    monkeypatch.setattr(generation, "EARLY_STOPPING", "never")  # not the shipped setting
    gen.generate(["CCO"], beams=2)
    assert seen == ["never"]

"""The lean decoder must say exactly what Hugging Face generate says (it only exists to be faster)."""
import pytest
import torch

from chemnamer.data.formatting import Template
from chemnamer.fastllama import FastLlama, supported
from chemnamer.finetune.modelprep import base_tokenizer, tiny_model
from chemnamer.finetune.vocab import VocabMap
from chemnamer.generate import Generator

SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "CCN1C=NC2=C1N=CN=C2N", "C1CCC(CC1)(C2=CC=C(C=C2)F)C(=O)O", "CCO"]


@pytest.fixture(scope="module")
def setup():
    tok = base_tokenizer()
    model = tiny_model(tok, seed=3).eval()
    template = Template("SMILES: {source}", "\nIUPAC: ")
    vocab = VocabMap.build(tok, [template.prompt(s) for s in SMILES])
    vocab.apply(model)
    with torch.no_grad():  # sharpen the random model: no near-ties decided by float noise
        model.lm_head.weight.mul_(4.0)
    gen = Generator(model, tok, vocab, template)
    ids, mask, width = gen._batch(SMILES)
    return model, gen, ids, mask, width


def test_supported_and_used(setup):
    model, gen, *_ = setup
    assert supported(model)
    assert gen._fast() is not None


def test_greedy_tokens_match_generate(setup):
    model, gen, ids, mask, width = setup
    eos = gen.eos_id
    toks, scores = FastLlama.from_model(model).greedy(ids, mask, 12, eos)
    ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                         eos_token_id=eos, pad_token_id=gen.pad_id)[:, width:]
    for row, ref_row in zip(toks.tolist(), ref.tolist()):
        n = row.index(eos) + 1 if eos in row else len(row)
        assert row[:n] == ref_row[:n]
    assert torch.all(scores <= 0)


def test_beam_best_matches_generate(setup):
    model, gen, ids, mask, width = setup
    eos = gen.eos_id
    fast = FastLlama.from_model(model).beam(ids[:2], mask[:2], 10, eos, 4)
    out = model.generate(input_ids=ids[:2], attention_mask=mask[:2], max_new_tokens=10, do_sample=False,
                         num_beams=4, num_return_sequences=4, eos_token_id=eos, pad_token_id=gen.pad_id,
                         early_stopping=True, output_scores=True, return_dict_in_generate=True)
    for r in range(2):
        best_toks, best_score = fast[r][0]
        ref = out.sequences[r * 4, width:].tolist()
        ref = ref[:ref.index(eos)] if eos in ref else ref
        assert best_toks == ref
        scores = [s for _, s in fast[r]]
        assert scores == sorted(scores, reverse=True)


def test_generator_fast_and_slow_agree_on_text(setup):
    model, gen, *_ = setup
    slow = Generator(model, gen.tokenizer, gen.vocab, gen.template)
    slow.use_fast = False
    a = gen.generate(SMILES, beams=1, max_new_tokens=12)
    b = slow.generate(SMILES, beams=1, max_new_tokens=12)
    assert [[c.name for c in x] for x in a] == [[c.name for c in x] for x in b]

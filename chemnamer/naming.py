"""Naming: the one entry point the CLI, batch and GUI share.

input text -> chem (structure) -> model candidates (beam search, scores) -> OPSIN verification
-> reference names (PubChem table, rule-based) -> chosen name -> NamingResult (plain data).

Choice of the name:
  * mode "model": the best-scoring *verified* candidate, else the best-scoring one marked unverified;
  * mode "best":  as "model", but when no candidate verifies, a verified reference name
    (PubChem record, then rule-based) is chosen and `chosen_from` says so.
A name is "verified" only when the structure OPSIN builds from it is the input structure, tautomer
and stereo included (opsin.check), so a check mark never rests on the model's own confidence.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields

from chemnamer import chem, inputs
from chemnamer.data.case import is_old_style, restore_case
from chemnamer.refnames import clean_name, is_component_list

# Beam width for naming one molecule at a time (CLI `name`, the GUI), chosen on the default recipe's
# 200 VALIDATION molecules (training/choose_beams.py; HF-equal beam search, early_stopping False):
# verified-first structure-correct 37.5 % greedy, 51.5 % at 4 beams, 56.0 % at 8, 58.0 % at 12;
# generate + verify CPU time p50 164 / 267 / 404 / 554 ms per molecule (1 thread; wall p50 0.4-1.3 s
# with the 2-core machine at load 8-10). 12 adds 2 points (4 molecules) for 37 % more time: 8.
# Batch naming keeps 4 for throughput (51.5 % on the same split).
NAME_BEAMS = 8
BATCH_BEAMS = 4
# SMILES forms of one molecule that a model trained on every form reads, its candidates pooled
# (chem.smiles_forms: as typed, RDKit's aromatic and Kekulé forms, ...; generate.pool), in modes model
# and best. Each form is one more generation, and a name found from any form is a name of the molecule.
# Chosen on VALIDATION with the default model (8 beams, first verified, structure-correct % / exact
# match %), `chemnamer eval --recipe training/recipes/default.toml --split valid --beams 8 --forms N`:
#   --sets test,aromatic,randomized (200 PubChem molecules): 1 form 53.5/46.0, 54.5/46.0, 46.5/35.5;
#     3 forms 62.0/53.0, 62.5/52.5, 63.0/53.0 (the input's form no longer matters);
#   --sets druglike --druglike-n 500 --limit 200: 1 form 22.5, 2 forms 26.0, 3 forms 27.0.
# Three forms cost up to 3x the generation time (the drug-like runs: 75 s for 1 form, 228 s for 3;
# one molecule's forms share a batch: README, Speed); batch naming keeps one form for throughput.
NAME_FORMS = 3
BATCH_FORMS = 1
# Guided mode names with 4 beams, the width its validation figures were measured at (README, mode
# choice): the draft makes the first beams the likely ones, and a wider search was not measured.
GUIDED_BEAMS = 4

MODES = ("model", "best", "guided")
# Mode "guided": the guided model (resources/models/guided) rewrites the verified rule-based name in
# PubChem's style; when no rewrite verifies, the rule-based name itself is the answer.
GUIDED_MODEL = "guided"
# The mode used when none is asked for, chosen on VALIDATION data (training/evaluate_modes.py --split
# valid --druglike-seed 1 --druglike-n 80 --modes model,guided --beams 4): on the default recipe's 193
# validation molecules guided is structure-correct on 100 % and PubChem's name on 64.8 % (±3.4), the
# direct model on 33.2 % / 32.1 %; on 80 drug-like MOSES molecules 80/80 against 0/80.
DEFAULT_MODE = "guided"
# How each `chosen_from` reads in a sentence ("chosen from the PubChem reference").
SOURCE_LABELS = {"model": "model", "guided": "guided", "pubchem": "PubChem", "rule_based": "rule-based"}
MAX_GENERATION_HEAVY_ATOMS = chem.MAX_HEAVY_ATOMS
# Guided batches are generated in groups of this many molecules, so that the helper thread drafts the
# next group while this one is generated.
GUIDED_GROUP = 8
# Guided decoding's bonus (log-prob) for copying the draft (model.fastllama.CopyBias), measured on the
# validation data (training/evaluate_modes.py --split valid --druglike-seed 1 --druglike-n 80 --modes
# guided --beams 4 --copy-bonus B): bonus 0: PubChem's name for 64.8 % (±3.4) of 193 molecules, a
# verified rewrite for 128 of them and for 9 of 80 drug-like ones; 1: 59.1 %, 140, 23/80; 2: 51.8 %,
# 152, 38/80. Leaning on the draft makes more rewrites verify but fewer of them PubChem's name: off.
GUIDED_COPY_BONUS = 0.0
RULE_CACHE_SIZE = 4096  # rule-based drafts kept for the session (the same molecule twice: no new draft)
RESULT_CACHE_SIZE = 1024  # whole results kept for the session, by molecule (Namer._cached)


@dataclass
class CandidateResult:
    name: str
    score: float
    verified: bool | None = None
    reason: str = ""
    kind: str = ""  # opsin.Verification.kind: verified, tautomer, stereo_unspecified, ...


@dataclass
class References:
    pubchem: str | None = None
    pubchem_verified: bool | None = None
    pubchem_original: str | None = None  # the table's own name when `pubchem` is its current-style form
    common_name: str | None = None
    cid: str | None = None
    synonyms: list = field(default_factory=list)
    rule_based: str | None = None
    rule_based_verified: bool | None = None
    rule_based_error: str | None = None
    rule_based_namer: str | None = None  # which namer wrote rule_based (openclatura, else nispo)


@dataclass
class NamingResult:
    input: str
    source: str = "smiles"  # smiles | name
    smiles: str | None = None
    inchikey: str | None = None
    formula: str | None = None
    name: str | None = None
    verified: bool | None = None
    score: float | None = None
    chosen_from: str | None = None  # model | guided (a rewrite) | pubchem | rule_based
    candidates: list = field(default_factory=list)
    reference: References = field(default_factory=References)
    model: str | None = None
    mode: str = "model"
    device: str | None = None
    ms: dict = field(default_factory=dict)
    error: str | None = None
    note: str | None = None
    id: int | None = None  # history row id once stored

    @property
    def confidence(self) -> float | None:
        """Mean per-token probability of the chosen model name (exp of the length-normalized score).
        Not the chance that the name is right (training/confidence_check.py: 94 % shown, 39 % right on
        the validation molecules), so the app and the CLI's text do not show it; the JSON keeps it."""
        return math.exp(self.score) if self.score is not None else None

    @property
    def generated(self) -> str | None:
        """The model's name: the chosen one when the model produced it, else its top candidate."""
        if self.chosen_from in ("model", "guided") and self.name:
            return self.name
        return self.candidates[0].name if self.candidates else None

    @property
    def comparable_reference(self) -> str | None:
        """PubChem's name when it is a name: a ';'-joined component list ("sodium;chloride") is not."""
        ref = self.reference.pubchem
        return None if is_component_list(ref) else ref

    def agreement(self, generated: str | None = None) -> dict:
        """Does the name shown (default: `name`, whichever source it was chosen from) agree with
        PubChem's: same string (any case), same structure? About the name shown, never the model's
        top-scoring candidate: a ✓ name must not sit beside "same structure ✗" about another name."""
        generated = generated if generated is not None else self.name
        ref = self.comparable_reference
        if not ref or not generated:
            return {"same_string": None, "same_structure": None}
        cand = next((c for c in self.candidates if c.name == generated), None)
        verified = cand.verified if cand is not None else (self.verified if self.name == generated else None)
        same_structure = verified if self.reference.pubchem_verified else None
        return {"same_string": generated.lower() == ref.lower(), "same_structure": same_structure}

    def to_json(self) -> dict:
        d = asdict(self)
        d["confidence"] = self.confidence
        d["reference"] = {"pubchem": self.reference.pubchem, "rule_based": self.reference.rule_based,
                          **{k: v for k, v in asdict(self.reference).items() if k not in ("pubchem", "rule_based")}}
        return d

    def to_record(self) -> dict:
        """The history row (chemnamer.store.history.save_naming)."""
        return {
            "input": self.input, "source": self.source, "smiles": self.smiles, "inchikey": self.inchikey,
            "model_id": self.model, "mode": self.mode, "name": self.name, "verified": self.verified,
            "score": self.score, "chosen_from": self.chosen_from,
            "candidates": [asdict(c) for c in self.candidates],
            "reference_pubchem": self.reference.pubchem, "reference_rule_based": self.reference.rule_based,
            "reference_json": asdict(self.reference), "error": self.error, "ms_json": self.ms, "device": self.device,
        }

    @classmethod
    def from_record(cls, rec: dict) -> NamingResult:
        """The inverse of `to_record`: a result rebuilt from a history row (with its id)."""
        ref_fields = {f.name for f in fields(References)}
        ref = References(**{k: v for k, v in (rec.get("reference_json") or {}).items() if k in ref_fields})
        ref.pubchem = ref.pubchem or rec.get("reference_pubchem")
        ref.rule_based = ref.rule_based or rec.get("reference_rule_based")
        cand_fields = {f.name for f in fields(CandidateResult)}
        cands = [CandidateResult(**{k: v for k, v in c.items() if k in cand_fields})
                 for c in rec.get("candidates") or [] if isinstance(c, dict) and "name" in c]
        return cls(
            input=rec.get("input") or "", source=rec.get("source") or "smiles", smiles=rec.get("smiles"),
            inchikey=rec.get("inchikey"), name=rec.get("name"), verified=rec.get("verified"),
            score=rec.get("score"), chosen_from=rec.get("chosen_from"), candidates=cands, reference=ref,
            model=rec.get("model_id"), mode=rec.get("mode") or "model", device=rec.get("device"),
            ms=rec.get("ms_json") or {}, error=rec.get("error"), id=rec.get("id"))


class Namer:
    """Holds one loaded model (lazily) and names molecules with it. Thread-safe: one naming at a time."""

    def __init__(self, model_id: str | None = None, device: str | None = None, beams: int = NAME_BEAMS,
                 mode: str = "model", verify: bool = True, references: bool = True, rule_based: bool = True,
                 store: bool = True, rule_timeout_s: float = 5.0, guided_model_id: str | None = None,
                 guided_beams: int = GUIDED_BEAMS, forms: int = NAME_FORMS):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.model_id = model_id
        self.device = device
        self.beams = beams
        self.guided_beams = guided_beams
        self.forms = max(1, forms)
        self.mode = mode
        self.verify = verify
        self.references = references
        self.rule_based = rule_based
        self.store = store
        self.rule_timeout_s = rule_timeout_s
        self._generator = None
        self._loaded = None
        self.model_error: str | None = None
        # the guided model, loaded on the first guided naming
        self.guided_model_id = guided_model_id or GUIDED_MODEL
        self._guided_generator = None
        self._guided_loaded = None
        self.guided_error: str | None = None
        self._lock = threading.RLock()
        # Rule-based drafts by canonical SMILES, computed on a helper thread (the namers run in their
        # own processes, OPSIN releases the GIL) while this thread generates: see _rule_jobs.
        self.copy_bonus = GUIDED_COPY_BONUS
        self._rules: dict[str, Future] = {}
        self._results: dict[tuple, NamingResult] = {}  # see _cached
        self._rule_thread: ThreadPoolExecutor | None = None

    # --- model -----------------------------------------------------------------------------------
    def load(self):
        """Load the model now; on failure remember why and fall back to reference-only naming."""
        from chemnamer.model import loading as models
        from chemnamer.model.generate import Generator

        with self._lock:
            if self._generator is not None or self.model_error is not None:
                return self._loaded
            if self.verify:
                from chemnamer.opsin import get_opsin

                get_opsin().start_in_background()  # JVM start-up overlaps the model load
            try:
                self._loaded = models.load(self.model_id, self.device, lite=True)
                self._generator = Generator.from_loaded(self._loaded)
                if "rule" in self._generator.template.fields:  # its prompt needs a draft: mode guided only
                    self._generator = None
                    self.model_error = f"{self._loaded.spec.id} is a guided model: it names in mode guided only"
            except models.ModelError as exc:
                self.model_error = str(exc)
            return self._loaded

    def load_guided(self):
        """Load the guided model now; on failure remember why (guided naming then falls back to the
        verified rule-based name)."""
        from chemnamer.model import loading as models
        from chemnamer.model.generate import Generator

        with self._lock:
            if self._guided_generator is None and self.guided_error is None:
                if self.verify:
                    from chemnamer.opsin import get_opsin

                    get_opsin().start_in_background()  # JVM start-up overlaps the model load
                try:
                    self._guided_loaded = models.load(self.guided_model_id, self.device, lite=True)
                    self._guided_generator = Generator.from_loaded(self._guided_loaded)
                    if "rule" not in self._guided_generator.template.fields:
                        self._guided_generator = None
                        self.guided_error = f"{self.guided_model_id} is not a guided model (no {{rule}} input)"
                except models.ModelError as exc:
                    self.guided_error = str(exc)
            return self._guided_loaded

    @property
    def guided_label(self) -> str:
        return self._guided_loaded.spec.id if self._guided_loaded is not None else self.guided_model_id

    @property
    def model_label(self) -> str:
        if self._loaded is not None:
            return self._loaded.spec.id
        return self.model_id or "default"

    @property
    def model_forms(self) -> int:
        """SMILES forms the loaded direct model reads per molecule by default: `forms` for a model trained
        on every form, else one (chem.smiles_forms)."""
        trained_on = self._generator.input_forms if self._generator is not None else "kekule"
        return self.forms if trained_on == "any" else 1

    @property
    def device_label(self) -> str | None:
        return self._loaded.device if self._loaded is not None else None

    # --- naming ----------------------------------------------------------------------------------
    def name(self, text: str, beams: int | None = None, mode: str | None = None,
             store: bool | None = None, forms: int | None = None) -> NamingResult:
        return self.name_many([text], beams, mode, store, forms)[0]

    def name_many(self, texts: list[str], beams: int | None = None, mode: str | None = None,
                  store: bool | None = None, forms: int | None = None) -> list[NamingResult]:
        """beams, mode, forms (SMILES forms pooled in modes model and best): the Namer's unless given."""
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        beams = max(1, beams or (self.guided_beams if mode == "guided" else self.beams))
        # a guided model reads its prompt (SMILES and draft) once: pooled forms are for the direct model
        forms = 1 if mode == "guided" else max(1, forms or self.forms)
        setting = (beams, forms)
        with self._lock:
            results, molecules = [], []
            for text in texts:
                t0 = time.perf_counter()
                parsed = inputs.parse_input(text if isinstance(text, str) else "")
                r = NamingResult(input=text if isinstance(text, str) else repr(text), mode=mode)
                r.ms["parse"] = _ms(t0)
                if isinstance(parsed, chem.ChemError):
                    r.error = parsed.message
                else:
                    r.source, r.smiles, r.inchikey, r.formula = parsed.source, parsed.smiles, parsed.inchikey, parsed.formula
                    cached = self._cached(r, mode, setting)
                    if cached is not None:
                        r = cached
                    else:
                        molecules.append((r, parsed))
                results.append(r)
            if molecules and self._wants_rule_based(mode):
                self._rule_jobs([r.smiles for r, _ in molecules])  # on the helper thread from now on
            if molecules and mode == "guided":
                # The draft first (the guided model's prompt holds it), in groups: while one group is
                # generated, the helper thread drafts the next.
                for start in range(0, len(molecules), GUIDED_GROUP):
                    group = [r for r, _ in molecules[start:start + GUIDED_GROUP]]
                    for r in group:
                        self._add_references(r, mode)
                    self._generate_guided(group, beams)
                    for r in group:
                        self._verify_candidates(r)
                        self._choose(r, mode)
            elif molecules:
                self._generate([r for r, _ in molecules], beams, forms)
                for r, _ in molecules:
                    self._verify_candidates(r)
                    self._add_references(r, mode)
                    self._choose(r, mode)
            for r, _ in molecules:
                self._remember(r, mode, setting)
            for r in results:
                r.model = self.guided_label if mode == "guided" else self.model_label
                r.device = self.device_label
                # rule_based ran on the helper thread, beside the rest: what naming waited for it is
                # rule_based_wait
                r.ms["total"] = round(sum(v for k, v in r.ms.items() if k not in ("total", "rule_based")), 2)
            if store if store is not None else self.store:
                self._save(results)
            return results

    def _generate(self, results: list[NamingResult], beams: int, forms: int = 1) -> None:
        self.load()
        if self._generator is None:
            for r in results:
                _add_note(r, f"model unavailable ({self.model_error}); reference names only")
            return
        t0 = time.perf_counter()
        trained_on = self._generator.input_forms
        sources = [chem.smiles_forms(r.input if r.source == "smiles" else "", r.smiles, trained_on, forms)
                   for r in results]
        cands = self._generator.generate_pooled(sources, beams=beams, num_return=beams)
        per = _ms(t0) / len(results)
        for r, cs in zip(results, cands):
            r.candidates = [CandidateResult(c.name, round(c.score, 5)) for c in cs]
            r.ms["generate"] = round(per, 2)

    def _generate_guided(self, results: list[NamingResult], beams: int) -> None:
        """Rewrite each molecule's verified rule-based draft; molecules without one get no candidates."""
        with_draft = [r for r in results if r.reference.rule_based and r.reference.rule_based_verified]
        for r in results:
            if r not in with_draft:
                _add_note(r, "no verified rule-based name to rewrite")
        if not with_draft:
            return
        self.load_guided()
        if self._guided_generator is None:
            for r in with_draft:
                _add_note(r, f"guided model unavailable ({self.guided_error})")
            return
        t0 = time.perf_counter()
        # The guided model was trained on every SMILES form (augmentation): the input goes as typed.
        inputs = [{"source": r.input.strip() if r.source == "smiles" else r.smiles, "rule": r.reference.rule_based}
                  for r in with_draft]
        cands = self._guided_generator.generate(inputs, beams=beams, num_return=beams, copy_bonus=self.copy_bonus)
        per = _ms(t0) / len(with_draft)
        for r, cs in zip(with_draft, cands):
            r.candidates = [CandidateResult(c.name, round(c.score, 5)) for c in cs]
            r.ms["generate"] = round(per, 2)

    def _verify_candidates(self, r: NamingResult) -> None:
        if not self.verify or not r.candidates:
            return
        from chemnamer.opsin import get_opsin

        t0 = time.perf_counter()
        opsin = get_opsin()
        for c in r.candidates:
            v = opsin.check(c.name, r.smiles)
            c.verified, c.reason, c.kind = v.verified, v.reason, v.kind
        r.ms["verify"] = _ms(t0)

    def _add_references(self, r: NamingResult, mode: str) -> None:
        if not self.references:
            return
        t0 = time.perf_counter()
        try:
            from chemnamer.reference import get_reference_table

            rec = get_reference_table().lookup(r.inchikey) if r.inchikey else None
        except Exception as exc:  # a missing data package must not break naming
            rec = None
            _add_note(r, f"reference table unavailable: {exc}")
        if rec is not None:
            # The table is lowercased; show IUPAC capitals (N-, (2R), 1H-) like every other name here.
            # Markup ("$l^{5}") printed as IUPAC does (λ⁵) or dropped, never shown raw (chemnamer.refnames).
            r.reference.pubchem = clean_name(restore_case(rec.iupac_name)) if rec.iupac_name else None
            if r.reference.pubchem and is_old_style(rec.iupac_name):
                # "4-chloranylbenzamide" is shown as "4-chlorobenzamide", the table's name below it;
                # the conversion is kept only when OPSIN reads it as this structure (checked below)
                from chemnamer.data.oldstyle import convert

                r.reference.pubchem_original = r.reference.pubchem
                r.reference.pubchem = clean_name(restore_case(convert(rec.iupac_name)))
            r.reference.common_name = clean_name(rec.common_name)
            r.reference.cid = str(rec.cid) if rec.cid is not None else None
            r.reference.synonyms = [x for x in map(clean_name, rec.synonyms[:20]) if x]
            # "sodium;chloride" lists a salt's parts: not a name, so never verified, compared or chosen.
            if self.verify and r.reference.pubchem and not is_component_list(r.reference.pubchem):
                from chemnamer.opsin import get_opsin

                r.reference.pubchem_verified = get_opsin().check(r.reference.pubchem, r.smiles).verified
                if not r.reference.pubchem_verified and r.reference.pubchem_original:
                    # a conversion that OPSIN does not read as this molecule is not shown
                    r.reference.pubchem, r.reference.pubchem_original = r.reference.pubchem_original, None
                    r.reference.pubchem_verified = get_opsin().check(r.reference.pubchem, r.smiles).verified
        r.ms["reference"] = _ms(t0)
        # The rule-based name costs milliseconds to seconds: compute it when it can be shown or chosen.
        if self._wants_rule_based(mode):
            t0 = time.perf_counter()
            draft = self._rule_jobs([r.smiles])[0].result()
            ref = r.reference
            ref.rule_based, ref.rule_based_verified, ref.rule_based_namer, ref.rule_based_error = draft.as_tuple()
            # its own time on the helper thread; `rule_based_wait` what naming waited for it
            r.ms["rule_based"], r.ms["rule_based_wait"] = draft.ms, _ms(t0)

    # --- the session's results, by molecule ----------------------------------------------------------
    def _result_key(self, r: NamingResult, mode: str, setting: tuple[int, int]) -> tuple:
        # What the model receives: the input as typed in mode guided (a guided model reads any form). Two
        # typings of one molecule can get different candidates, so they are different results.
        forms = self._generator.input_forms if self._generator is not None else "kekule"
        seen = model_input(r, "any" if mode == "guided" else forms)
        return (seen, r.smiles, mode, setting, self.verify, self.references, self.rule_based, self.copy_bonus)

    def _cached(self, r: NamingResult, mode: str, setting: tuple[int, int]) -> NamingResult | None:
        """The molecule's result from earlier in this session (a copy, with this input and its parse
        time): the same molecule named twice costs nothing the second time."""
        hit = self._results.get(self._result_key(r, mode, setting))
        if hit is None:
            return None
        out = copy.deepcopy(hit)
        out.input, out.source, out.id = r.input, r.source, None
        out.ms = {"parse": r.ms["parse"], "cached": 0.0}
        return out

    def _remember(self, r: NamingResult, mode: str, setting: tuple[int, int]) -> None:
        model_failed = self.guided_error if mode == "guided" else self.model_error
        if r.error or r.name is None or model_failed or _is_transient(r.reference.rule_based_error):
            return  # nothing worth keeping, or a failure that may pass: name afresh next time
        self._results[self._result_key(r, mode, setting)] = copy.deepcopy(r)
        while len(self._results) > RESULT_CACHE_SIZE:
            self._results.pop(next(iter(self._results)))  # the oldest first

    def _wants_rule_based(self, mode: str) -> bool:
        return self.rule_based and (mode in ("best", "guided") or self.references)

    def _rule_jobs(self, smiles: list[str]) -> list[Future]:
        """The rule-based draft of each SMILES, from the session's cache or queued on the helper
        thread (one thread: the namers' workers serve one call at a time anyway)."""
        with self._lock:
            if self._rule_thread is None:
                self._rule_thread = ThreadPoolExecutor(1, thread_name_prefix="chemnamer-rule-based")
                if self.verify:
                    # the JVM must not start on the helper thread (it would stay attached and keep the
                    # process from exiting): start it on OPSIN's own detaching thread first
                    from chemnamer.opsin import get_opsin

                    get_opsin().start_in_background()
            jobs = []
            for s in smiles:
                job = self._rules.get(s)
                if job is None or job.cancelled() or (job.done() and _transient_failure(job)):
                    job = self._rules[s] = self._rule_thread.submit(first_verified_rule_name, s,
                                                                    self.rule_timeout_s, self.verify)
                jobs.append(job)
            if len(self._rules) > RULE_CACHE_SIZE:  # oldest first (dicts keep insertion order)
                for key in list(self._rules)[: len(self._rules) - RULE_CACHE_SIZE]:
                    if self._rules[key].done():
                        del self._rules[key]
            return jobs

    def forget(self) -> None:
        """Drop the session's cached results and rule-based drafts (benchmarks: each phase meets the
        molecules anew)."""
        with self._lock:
            self._rules = {k: j for k, j in self._rules.items() if not j.done()}
            self._results.clear()

    def close(self) -> None:
        """Drop the queued drafts and let the helper thread end after the one it is making (an
        interrupted batch must not wait at exit for drafts nobody will read)."""
        with self._lock:
            if self._rule_thread is not None:
                self._rule_thread.shutdown(wait=False, cancel_futures=True)
                self._rule_thread = None

    def _choose(self, r: NamingResult, mode: str) -> None:
        if r.candidates:
            verified = [c for c in r.candidates if c.verified]
            best = verified[0] if verified else r.candidates[0]
            source = "guided" if mode == "guided" else "model"  # a rewrite by the guided model
            r.name, r.verified, r.score, r.chosen_from = best.name, best.verified, best.score, source
        if mode == "guided" and not r.verified and r.reference.rule_based_verified:
            was = "no rewrite verified" if r.candidates else "no rewrite"
            r.name, r.verified, r.score, r.chosen_from = r.reference.rule_based, True, None, "rule_based"
            _add_note(r, f"{was}: using the verified rule-based name ({r.reference.rule_based_namer})")
        if mode == "best" and not r.verified:
            refs = [("pubchem", r.reference.pubchem, r.reference.pubchem_verified),
                    ("rule_based", r.reference.rule_based, r.reference.rule_based_verified)]
            # PubChem's older "oxidanyl/azanyl" names are valid but dated: prefer a current-style name.
            refs.sort(key=lambda ref: bool(ref[1] and is_old_style(ref[1].lower())))
            for source, name, ok in refs:
                if name and ok:
                    was = "no candidate verified" if r.candidates else "no model candidates"
                    r.name, r.verified, r.score, r.chosen_from = name, True, None, source
                    _add_note(r, f"{was}: using the verified {SOURCE_LABELS[source]} reference name")
                    break
        if r.name is None and not r.error:
            r.error = None
            r.note = r.note or "no name could be produced"

    def _save(self, results: list[NamingResult]) -> None:
        try:
            from chemnamer.store import history

            for r in results:
                r.id = history.save_naming(r.to_record())
        except Exception as exc:  # history is a convenience: never lose the naming itself over it
            for r in results:
                r.note = (r.note + "; " if r.note else "") + f"not saved to history: {exc}"


@dataclass
class RuleDraft:
    name: str | None
    verified: bool | None
    namer: str | None
    error: str | None
    ms: float

    def as_tuple(self) -> tuple:
        return self.name, self.verified, self.namer, self.error


_TRANSIENT = ("timed out", "crashed", "did not start")  # rule-based failures worth another try


def _is_transient(error: str | None) -> bool:
    return bool(error) and any(t in error for t in _TRANSIENT)


def _transient_failure(job: Future) -> bool:
    if job.exception() is not None:
        return True
    draft = job.result()
    return draft.name is None and _is_transient(draft.error)


def first_verified_rule_name(smiles: str, timeout_s: float = 5.0, verify: bool = True) -> RuleDraft:
    """The first rule-based name that OPSIN verifies, openclatura's before nispo's (97.6 % and 93.2 %
    structure-correct on drug-like PubChem compounds, 99.1 % for either); nispo runs only when
    openclatura's name is missing or wrong. Without verification, openclatura's name. A namer that
    times out ends the search: the stage stays within one time-out."""
    from chemnamer.opsin import get_opsin
    from chemnamer.rulebased import NAMERS, rule_based_name

    t0 = time.perf_counter()
    best, errors = RuleDraft(None, None, None, None, 0.0), []
    for namer in NAMERS:
        rb = rule_based_name(smiles, timeout_s=timeout_s, namer=namer)
        if rb.error:
            errors.append(rb.error)
        if rb.error and "timed out" in rb.error:
            break
        if not rb.name:
            continue
        verified = get_opsin().check(rb.name, smiles).verified if verify else None
        if best.name is None or verified:
            best = RuleDraft(rb.name, verified, namer, None, 0.0)
        if verified or not verify:
            break
    best.error = None if best.verified else "; ".join(errors) or None
    best.ms = _ms(t0)
    return best


def default_mode(model_id: str | None = None) -> str:
    """The mode when the user names none: DEFAULT_MODE with the shipped models; a model the user names
    is the one they want to see, so a direct model of theirs (or `default`) names in mode "model" and a
    guided one in mode "guided"."""
    if model_id is None:
        return DEFAULT_MODE
    from chemnamer.model import loading as models

    return "guided" if models.is_guided(model_id) else "model"


def _add_note(r: NamingResult, text: str) -> None:
    """Notes accumulate ("; "-joined): a later stage must not hide why an earlier one fell back."""
    r.note = f"{r.note}; {text}" if r.note else text


def model_input(r: NamingResult, input_forms: str = "kekule") -> str:
    """The SMILES the language model sees: the input as typed when the model was trained on every SMILES
    form, its Kekulé form for a model trained on PubChem's SMILES (chem.model_smiles says why)."""
    return chem.model_smiles(r.input if r.source == "smiles" else "", r.smiles, input_forms)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)

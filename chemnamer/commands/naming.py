"""`chemnamer name`: name SMILES or IUPAC names in the terminal (human blocks or JSON lines)."""
from __future__ import annotations

import json
import sys

CHUNK = 8  # inputs per generation batch: results stream out while the rest are still being named


def add(sub) -> None:
    p = sub.add_parser("name", help="name molecules given as SMILES or IUPAC names",
                       epilog="exit status: 0 when every input was named, 1 when any input failed "
                              "(each failure is reported on stderr), 2 for a usage error")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="SMILES or name; '-' reads one per line from stdin")
    p.add_argument("--json", action="store_true", help="one JSON object per line per input")
    add_model_options(p)
    p.add_argument("--no-store", action="store_true", help="do not save the namings to the history")
    p.set_defaults(func=cmd_name)


def add_model_options(p, beams: int = 8, forms: int = 3) -> None:
    """Options shared with `chemnamer batch`. beams, forms: = naming.NAME_BEAMS / BATCH_BEAMS and
    NAME_FORMS / BATCH_FORMS (literals here: importing naming would load RDKit for --help)."""
    p.add_argument("--model", help="model id, model directory or hub id (default: the shipped 'guided' in "
                                   "mode guided, the shipped 'default' in the other modes)")
    # Literal choices (= chemnamer.naming.MODES): importing naming here would load RDKit for --help.
    p.add_argument("--mode", choices=("model", "best", "guided"), default=None,
                   help="guided (the default): the guided model rewrites the verified rule-based name in "
                        "PubChem's style (that name is the answer when no rewrite verifies); model: the "
                        "direct model alone; best: the direct model, falling back to a verified reference "
                        "name. Default with --model: the mode that model names in (guided or model)")
    p.add_argument("--beams", type=int, default=None,
                   help=f"beam width = candidates per molecule and SMILES form (default {beams}; 4 in mode guided)")
    p.add_argument("--forms", type=int, default=None,
                   help=f"SMILES forms of each molecule the direct model reads, its candidates pooled (a model "
                        f"trained on every form; default {forms})")
    p.set_defaults(default_beams=beams, default_forms=forms)
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--threads", type=int,
                   help="CPU threads for the model (default: torch's choice; 1 is faster on a busy machine)")


def make_namer(args, store: bool):
    """A Namer from the shared options, or (None, message) when the options cannot work at all.

    An explicitly named model that cannot be resolved is an error; the default model missing is
    only a note (naming goes on with reference names) so a fresh install still does something.
    """
    from chemnamer.model import loading as models
    from chemnamer.model.loading import quiet_libraries
    from chemnamer.naming import Namer

    quiet_libraries()
    if args.beams is not None and args.beams < 1:
        return None, "--beams must be at least 1"
    if args.forms is not None and args.forms < 1:
        return None, "--forms must be at least 1"
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        if args.device not in ("auto", "cpu"):
            models.pick_device(args.device)  # says now if CUDA is missing (imports torch: not for cpu/auto)
        if args.model:
            models.resolve(args.model)  # typos fail here, before any naming
    except models.ModelError as exc:
        return None, str(exc)
    from chemnamer.naming import GUIDED_BEAMS, default_mode

    if args.mode is None:
        args.mode = default_mode(args.model)
    guided = args.mode == "guided"  # --model then names the guided model
    return Namer(model_id=None if guided else args.model, guided_model_id=args.model if guided else None,
                 device=args.device, beams=args.beams or args.default_beams, mode=args.mode, store=store,
                 guided_beams=args.beams or GUIDED_BEAMS, forms=args.forms or args.default_forms), None


def model_error(namer, args) -> str | None:
    """Why the model this mode names with did not load (None: loaded, or not tried yet)."""
    return namer.guided_error if args.mode == "guided" else namer.model_error


def load_model(namer, args) -> None:
    """Load the model this mode names with (the guided one in mode guided, else the direct one)."""
    namer.load_guided() if args.mode == "guided" else namer.load()


def model_problem(namer, args) -> str | None:
    """After the first naming: an error message when an explicit model did not load."""
    error = model_error(namer, args)
    if error and args.model:
        return f"model {args.model!r} could not be loaded: {error}"
    return None


def model_note(namer, args) -> str:
    if args.mode == "guided":
        return (f"note: guided model unavailable: {namer.guided_error}; using the verified rule-based names "
                "only")
    hint = "" if args.mode == "best" else " (add --mode best to choose a verified reference name)"
    return f"note: model unavailable: {namer.model_error}; using reference names only{hint}"


def read_inputs(items: list[str]) -> list[str]:
    out = []
    for item in items:
        if item == "-":
            out += [line.strip() for line in sys.stdin if line.strip()]
        else:
            out.append(item)
    return out


def short(text: str, limit: int = 60) -> str:
    """One line, bounded: junk names from an untrained model can be long and multi-line."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cmd_name(args) -> int:
    inputs = read_inputs(args.inputs)
    if not inputs:
        print("error: no input (give SMILES or names, or '-' with one per line on stdin)", file=sys.stderr)
        return 2
    namer, problem = make_namer(args, store=not args.no_store)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    marks = Marks(sys.stdout)
    failed = 0
    noted = False
    for start in range(0, len(inputs), CHUNK):
        try:
            results = namer.name_many(inputs[start:start + CHUNK])
        except KeyboardInterrupt:
            namer.close()  # queued rule-based drafts are dropped, not awaited at exit
            raise
        problem = model_problem(namer, args)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        if model_error(namer, args) and not noted:
            print(model_note(namer, args), file=sys.stderr)
            noted = True
        for r in results:
            if r.error:
                failed += 1
                print(f"error: {short(r.input, 80)!r}: {r.error}", file=sys.stderr)
            if args.json:
                print(json.dumps(r.to_json(), ensure_ascii=False), flush=True)
            elif not r.error:
                print(render(r, marks, model_error(namer, args)), flush=True)
    # Any failure is 1, not only all of them: a script that names a list must notice a lost row.
    return 1 if failed else 0


class Marks:
    """✓ ✗ ? where the terminal can print them, ASCII otherwise (Windows code pages, C locale)."""

    def __init__(self, stream):
        try:
            "✓✗".encode(getattr(stream, "encoding", None) or "ascii")
            self.yes, self.no, self.unknown = "✓", "✗", "?"
        except (UnicodeEncodeError, LookupError):
            self.yes, self.no, self.unknown = "[ok]", "[x]", "[?]"

    def __call__(self, verified) -> str:
        return self.yes if verified is True else self.no if verified is False else self.unknown


def render(r, mark, model_error: str | None = None) -> str:
    """A compact block per molecule. The model-unavailable note is said once on stderr, not here."""
    ref = r.reference
    lines = [r.input if r.source == "smiles" else f"{r.input}  (name, via OPSIN)"]
    lines.append(f"  smiles      {r.smiles}  {r.formula or ''}  {r.inchikey or ''}".rstrip())
    if r.name:
        # No "confidence": the mean token probability is not the chance a name is right (naming_view._provenance).
        lines.append(f"  name        {mark(r.verified)} {short(r.name, 100)}  (from {r.chosen_from})")
    else:
        lines.append("  name        -  (no name)")
    if ref.pubchem or ref.common_name:
        common = ref.common_name if (ref.common_name or "").lower() != (ref.pubchem or "").lower() else None
        extra = ", ".join(x for x in (common, f"CID {ref.cid}" if ref.cid else None) if x)
        lines.append(f"  pubchem     {mark(ref.pubchem_verified)} {ref.pubchem or '-'}" + (f"  ({extra})" if extra else ""))
    else:
        lines.append("  pubchem     -  (not in the reference table)")
    if ref.rule_based:
        lines.append(f"  rule-based  {mark(ref.rule_based_verified)} {ref.rule_based}")
    elif ref.rule_based_error:
        lines.append(f"  rule-based  -  ({ref.rule_based_error})")
    for i, c in enumerate(r.candidates):
        label = "candidates" if i == 0 else ""
        lines.append(f"  {label:<11} {i + 1}. {mark(c.verified)} {c.score:7.3f}  {short(c.name, 80)}")
    note = r.note or ""
    for said in (f"guided model unavailable ({model_error})", f"model unavailable ({model_error}); reference names only"):
        note = note.replace(said, "").strip("; ")
    if note:
        lines.append(f"  note        {note}")
    ms = ", ".join(f"{k.replace('_', '-')} {v:.0f}" for k, v in r.ms.items())
    lines.append(f"  ms          {ms}" + (f"  [{r.model} on {r.device}]" if r.device else f"  [{r.model}]"))
    return "\n".join(lines) + "\n"

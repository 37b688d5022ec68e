"""chemnamer: SMILES to IUPAC names with a fine-tuned small language model, verified by OPSIN."""

__version__ = "0.1.0"

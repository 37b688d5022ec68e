"""Language models below naming and training: loading by id, shape surgery (layers kept, vocabulary
trimmed), the lean decoder and its tokenizer, and generation. Imports nothing above it (no naming,
no finetune, no store models); see docs/architecture.md."""

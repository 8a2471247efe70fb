"""The eval harness: benchmarks, scorers, systems, the runner and reports that test the
compression-coverage hypothesis (small reasoner vs large model vs hybrid, on reasoning sets
and knowledge sets, with tokens, latency and cost).

- :mod:`eval.benchmarks`: ``load_benchmark(name)`` -> items ``(id, prompt, gold, kind)``;
- :mod:`eval.scoring`: ``verify_math``, ``extract_option``, ``run_code``, ``ifeval_check``,
  ``nq_exact_match``, ``token_f1``, ``pass_at_k`` and the ``score(item, text)`` dispatcher
  (training imports these as rewards);
- :mod:`eval.systems`: reasoner, large, rag, hybrid, oracle;
- :mod:`eval.runner`: ``run(...)``, resumable per-sample JSONL and the results JSON schema;
- :mod:`eval.contamination`: ``ngram_overlaps(train_texts, items, n=13)``;
- :mod:`eval.report`: markdown and plots. ``eval.cli`` holds ``corecover eval …``.

Submodules are imported on use, so ``import eval`` stays cheap.
"""

"""Nested hyper-parameter search: Optuna tunes each LOSO fold on that fold's training side only.

Design decision: tuning is per outer fold, not per cell. A single configuration chosen for the
whole cell would be chosen with every subject's labels, because under LOSO every subject is some
fold's test subject: whatever scores the configurations would see, across the cell, the labels it
is later tested on. So outer fold k gets its own Optuna study, ``"<cell id>/fold<k>"``, whose
objective is the UF1 (MEGC2019 rule: pooled, every protocol class counted) on inner validation
subjects. The inner folds split the subjects of fold k's training side (a seeded subject
partition, see `inner.subject_partition`); fold k's test subject is never part of what its study
can read, and the objects handed to a study (`inner.InnerData`) do not even hold its samples.

Each fold's best configuration becomes that fold's `TrainingBudget`, and the cell is then evaluated
once with the standard protocol (selection mode ``optuna-nested``). Every study of one cell lives
in one SQLite file, ``<results>/tuning/<cell path>.db``; re-running resumes, running only the
trials still missing. The trials run on an executor of the executor registry
(`Executor.optimize`): plain Optuna in this process, or Ray Tune's Optuna searcher.

Modules: `space` (what may change), `inner` (the training side of one fold, split by subject;
the cell itself is loaded by `execute.cell`), `objective` (inner-validation UF1), `study` (storage, resume, best trial),
`ray_search` (the Ray Tune path), `nested` (the whole cell: check, tune, evaluate, store). This
package file imports none of them: Ray's trial workers import `ray_search` and should not pay for
data loading or reporting modules they never use.
"""

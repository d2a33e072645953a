"""dpoloop's torch-free core: the ground that the API process (app/) and the workers (worker/) both
stand on.

- settings, paths, the state enums, model families and value types;
- db/ (models, sessions, migrations runner) and repo/ (queries and writes; they never commit);
- schemas/ (Pydantic bodies and configs), queue.py (the Celery app, its queues, routes and task
  names, and the one seam through which tasks are sent);
- services/ (one module per use case; each owns its transaction).

Nothing here imports app, worker, torch, diffusers or peft: import-linter checks it.
"""

"""Use cases, one module each: what the API, the CLI and the worker tasks ask of the database.

The rules:
- A service function owns its transaction: it opens a session (`session_scope`), commits or rolls
  back, and returns detached rows or plain values. Front ends and tasks never commit.
- Repo functions (core/repo) run inside a service's transaction; they never commit or roll back.
- A task is sent (`core.queue.send`) only after the commit that it depends on, so a worker never
  looks for a row that is not there yet.
- Errors a caller must tell apart are exceptions named here (LookupError for what does not exist,
  ValueError subclasses for what is refused); front ends turn them into 4xx answers or exit codes.
"""

"""Use cases, one module each: what the API, the CLI and the worker tasks ask of the database.

The rules:
- A service function owns its transaction: it opens a session (`session_scope`), commits or rolls
  back, and returns detached rows or plain values. Front ends and tasks never commit.
- A service may query the database itself (SQLAlchemy Core or ORM) for what only it asks. core/repo
  holds the queries that several services (or a service and a worker) share, and the hot paths whose
  SQL is tuned (serving a comparison, recording a vote); a query moves there when a second caller
  needs it. Repo functions run inside a service's transaction; they never commit or roll back.
- Rules that need no database (how votes make preference pairs, the held-out split, the verdict, win
  rates) are pure modules in core/ with tests that run without one: neither services nor repo hold them.
- A task is sent (`core.queue.send`) only after the commit that it depends on, so a worker never
  looks for a row that is not there yet.
- Errors a caller must tell apart are exceptions named here (LookupError for what does not exist,
  ValueError subclasses for what is refused); front ends turn them into 4xx answers or exit codes.
"""

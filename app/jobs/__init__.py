"""RQ entry points and the queue they run on. Jobs take ids only and are enqueued after commit."""

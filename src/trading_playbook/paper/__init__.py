"""Paper accounts: the event-driven engine carried forward one session at a time, with a journal.

- :mod:`~trading_playbook.paper.account`: ``init_account``, ``step_account`` (lock, config check, data,
  sessions), the account's files under ``$PLAYBOOK_HOME/paper/``.
- :mod:`~trading_playbook.paper.journal`: the SQLite journal (schema in ``docs/paper-trading.md``).
- :mod:`~trading_playbook.paper.brokers`: the journaling broker wrapper and the broker kinds (``sim``).
- :mod:`~trading_playbook.paper.replay`: a fresh account over a backtest window (proves the engine).
- :mod:`~trading_playbook.paper.queries`: read-only queries returning plain dicts (status, history,
  the web dashboard).
- :mod:`~trading_playbook.paper.drift`: paper against the backtest, trade by trade.
- :mod:`~trading_playbook.paper.daemon`: the schedule loop on the XNYS calendar.
"""

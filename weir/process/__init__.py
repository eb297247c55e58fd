"""The process model: start-up, workers and master, signals, reloads (docs/process.md).

Surface:
- `weir.process.run.run(cfg, RunOptions) -> int`: serve a loaded configuration until
  stopped (what `weir -f` does); `RunOptions` carries the command line's choices.
- `weir.process.handover`: the listening-socket hand-over between an old and a new process
  (`send_listeners`, `current_listeners` for a `_getsocks` request arriving elsewhere).
- The soft-stop state that client sessions read is `weir.net.listener.SOFT_STOP`.

Keywords (`daemon`, `pidfile`, `nbthread`, `cpu-map`, `master-worker`, `chroot`, `user`,
`ulimit-n`, `hard-stop-after`, `grace`, `close-spread-time`, ...) register from
`weir.process.keywords`; their settings are read with `weir.process.conf.process_conf`.
Loading a configuration imports nothing of the running machinery.
"""

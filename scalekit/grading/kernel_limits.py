"""Limits inside the kernel that runs a submission (an IPython startup file, not a module).

:mod:`scalekit.grading.sandbox` copies this file into the grading job's own IPython profile
(``$IPYTHONDIR/profile_default/startup/``), so IPython runs it in the kernel before the
notebook's first cell (IPython docs, "Startup files"). It reads the job's limits from the
``SCALEKIT_GRADING_LIMITS`` environment variable and

* caps the kernel's address space (``RLIMIT_AS``: an allocation beyond it raises
  MemoryError in the cell), its CPU time (``RLIMIT_CPU``, a backstop behind the wall clock)
  and the size of any file it writes (``RLIMIT_FSIZE``);
* caps what the notebook can send back as output — printed text, ``display()`` and a cell's
  result together — and drops the rest (the grader would otherwise hold it all in memory);
* notes each cell's first line as it starts, so a timeout or a crash can say where.

Events go, one JSON object a line, to the file the limits name. Nothing runs on import.
"""

if __name__ == "__main__":

    def _scalekit_grading_limits():
        import json
        import os
        import resource
        import sys

        cfg = json.loads(os.environ.get("SCALEKIT_GRADING_LIMITS") or "{}")
        if not cfg:
            return
        for name, value in (("RLIMIT_AS", cfg["memory_bytes"]), ("RLIMIT_CPU", cfg["cpu_s"]),
                            ("RLIMIT_FSIZE", cfg["file_bytes"])):
            which = getattr(resource, name)
            hard = resource.getrlimit(which)[1]
            value = int(value if hard == resource.RLIM_INFINITY else min(value, hard))
            resource.setrlimit(which, (value, value))

        def note(**event):
            try:
                with open(cfg["events"], "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(event) + "\n")
            except OSError:
                pass

        left = [int(cfg["output_bytes"])]
        shown = f"{cfg['output_bytes'] / 2**20:g} MiB"

        def spend(size):
            """True if ``size`` more characters of output fit; False (and noted) if not."""
            if size <= left[0]:
                left[0] -= size
                return True
            if left[0] >= 0:
                note(output_limit=shown)
                left[0] = -1
            return False

        def capped(write):
            def write_capped(text):
                if spend(len(text)):
                    return write(text)
                if left[0] == -1:
                    left[0] = -2
                    write(f"\n[grading: more than {shown} of output; the rest is dropped]\n")
                return len(text)
            return write_capped

        for stream in (sys.stdout, sys.stderr):
            stream.write = capped(stream.write)

        def size_of(data):
            return sum(len(v) if isinstance(v, str | bytes) else len(json.dumps(v, default=str))
                       for v in (data or {}).values())

        shell = get_ipython()  # noqa: F821 — IPython defines it for startup files
        publish = shell.display_pub.publish

        def publish_capped(data, *args, **kwargs):
            if spend(size_of(data)):
                return publish(data, *args, **kwargs)

        shell.display_pub.publish = publish_capped
        write_format = shell.displayhook.write_format_data

        def write_format_capped(format_dict, *args, **kwargs):
            if spend(size_of(format_dict)):
                return write_format(format_dict, *args, **kwargs)

        shell.displayhook.write_format_data = write_format_capped

        def started(info):
            lines = (getattr(info, "raw_cell", "") or "").strip().splitlines()
            note(cell=lines[0][:120] if lines else "")

        shell.events.register("pre_run_cell", started)

    _scalekit_grading_limits()
    del _scalekit_grading_limits

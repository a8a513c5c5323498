import time, subprocess
from tests.test_reminders_processes import *
from tests import test_reminders_processes as t

def test_dbg(pg_url, app, synced, http_sink, smtp_sink, tmp_path):
    cohort = make_cohort(http_sink.url("/hook"))
    ids = seed_trainees(cohort, TRAINEES)
    db.session.commit()
    moment = at(1, "20:30").isoformat()
    smtp = {"SMTP_HOST": smtp_sink.host, "SMTP_PORT": str(smtp_sink.port)}
    outs = [tmp_path / "tick-1.txt", tmp_path / "tick-2.txt"]
    t0 = time.monotonic()
    processes = [academy(pg_url, "reminders", "tick", "--now", moment, out=out, FLASK_DEBUG="0", **smtp) for out in outs]
    ends = {}
    while len(ends) < 2:
        for i, p in enumerate(processes):
            if i not in ends and p.poll() is not None:
                ends[i] = time.monotonic() - t0
        time.sleep(0.02)
    print(ends)
    for o in outs: print(o.read_text()[-3000:])
    db.session.commit()
    print(db.session.execute(sa.select(DeliveryTry.worker, sa.func.count()).group_by(DeliveryTry.worker)).all())

"""Question versions stored once: an attempt refers to the versions it drew, in order, instead of a copy

Each attempt's copy of its questions becomes a layout (version ids and the attempt's shuffles) over
`question_versions` (each version once, keyed by the SHA-256 of its canonical JSON); its results
become marks ([points, right] per question: the feedback is the version's, read again). Downgrade
writes the copies back.

quiz_attempts is altered in place on SQLite too (ADD COLUMN, and DROP COLUMN: SQLite 3.35 or
later), not rebuilt by batch mode: dropping the old table would delete every essay review (their ON
DELETE CASCADE runs, since the app turns foreign keys on). SQLite keeps the freed pages for new rows;
`VACUUM` returns them to the disk. PostgreSQL's (auto)vacuum reuses the space of the old copies.

Revision ID: 35bd138e88c8
Revises: 0ffe39411b06
Create Date: 2026-12-03 11:30:00.000000

"""
import copy
import hashlib
import json
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import app.database  # noqa: F401  (column types such as UTCDateTime)


# revision identifiers, used by Alembic.
revision = '35bd138e88c8'
down_revision = '0ffe39411b06'
branch_labels = None
depends_on = None

BATCH = 500  # attempts read and written at a time: a copy is up to ~35 KB

attempts = sa.table(
    'quiz_attempts', sa.column('id', sa.Integer), sa.column('questions', sa.JSON), sa.column('results', sa.JSON),
    sa.column('answers', sa.JSON), sa.column('layout', sa.JSON), sa.column('marks', sa.JSON))
versions = sa.table(
    'question_versions', sa.column('id', sa.Integer), sa.column('digest', sa.String),
    sa.column('question', sa.JSON), sa.column('created_at', app.database.UTCDateTime))


# --- the version of a drawn question, as app/quizzes/versions.py made it when this was written ---------

def _canonical_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _split(question: dict):
    version, order = dict(question), None
    for key in ("options", "choices"):
        items = question.get(key)
        if not isinstance(items, list):
            continue
        texts = [_canonical_json(item) for item in items]
        ranked = sorted(range(len(items)), key=texts.__getitem__)
        version[key] = [items[i] for i in ranked]
        positions = {}
        for position, i in enumerate(ranked):
            positions.setdefault(texts[i], []).append(position)
        drawn = [positions[text].pop(0) for text in texts]
        if drawn != list(range(len(items))):
            order = drawn
    return version, order


def _digest(version: dict) -> str:
    return hashlib.sha256(_canonical_json(version).encode("utf-8")).hexdigest()


def _mark(result: dict) -> list:
    points, right = result.get("points"), result.get("is_correct")
    if points is not None and float(points).is_integer():
        points = int(points)
    return [points, None if right is None else int(bool(right))]


def _batches(bind, *columns):
    last = 0
    while True:
        rows = bind.execute(sa.select(attempts.c.id, *columns).where(attempts.c.id > last)
                            .order_by(attempts.c.id).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def upgrade():
    op.create_table('question_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('question', sa.JSON(), nullable=False),
    sa.Column('created_at', app.database.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_versions')),
    sa.UniqueConstraint('digest', name=op.f('uq_question_versions_digest'))
    )
    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:  # ADD COLUMN: no rebuild on SQLite
        batch_op.add_column(sa.Column('layout', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('marks', sa.JSON(), server_default='[]', nullable=False))

    bind = op.get_bind()
    known = dict(bind.execute(sa.select(versions.c.digest, versions.c.id)).all())
    now = datetime.now(timezone.utc)
    update = (attempts.update().where(attempts.c.id == sa.bindparam('attempt_id'))
              .values(layout=sa.bindparam('new_layout', type_=sa.JSON), marks=sa.bindparam('new_marks', type_=sa.JSON),
                      answers=sa.bindparam('new_answers', type_=sa.JSON),
                      questions=sa.bindparam('no_questions', type_=sa.JSON),
                      results=sa.bindparam('no_results', type_=sa.JSON)))
    for rows in _batches(bind, attempts.c.questions, attempts.c.results, attempts.c.answers):
        drawn = {row.id: [_split(q) for q in row.questions or []] for row in rows}
        new = {}
        for parts in drawn.values():
            for version, _ in parts:
                digest = _digest(version)
                if digest not in known:
                    new.setdefault(digest, version)
        if new:
            bind.execute(sa.insert(versions), [{"digest": d, "question": v, "created_at": now} for d, v in new.items()])
            known.update(bind.execute(sa.select(versions.c.digest, versions.c.id)
                                      .where(versions.c.digest.in_(list(new)))).all())
        changes = []
        for row in rows:
            layout = [[known[_digest(version)]] + ([order] if order is not None else [])
                      for version, order in drawn[row.id]]
            results = row.results or {}
            marks = [_mark(results.get(q["id"]) or {}) for q in row.questions or []] if results else []
            changes.append({"attempt_id": row.id, "new_layout": layout, "new_marks": marks,
                            "new_answers": row.answers or {}, "no_questions": [], "no_results": {}})
        bind.execute(update, changes)

    op.drop_column('quiz_attempts', 'results')
    op.drop_column('quiz_attempts', 'questions')


def downgrade():
    from app.quizzes import grading  # the feedback for her answers, as the results used to keep it

    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:  # ADD COLUMN: no rebuild on SQLite
        batch_op.add_column(sa.Column('questions', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('results', sa.JSON(), server_default='{}', nullable=False))

    bind = op.get_bind()
    stored = dict(bind.execute(sa.select(versions.c.id, versions.c.question)).all())
    update = (attempts.update().where(attempts.c.id == sa.bindparam('attempt_id'))
              .values(questions=sa.bindparam('old_questions', type_=sa.JSON),
                      results=sa.bindparam('old_results', type_=sa.JSON)))
    for rows in _batches(bind, attempts.c.layout, attempts.c.marks, attempts.c.answers):
        changes = []
        for row in rows:
            questions = []
            for entry in row.layout or []:
                question = copy.deepcopy(stored[entry[0]])
                if len(entry) > 1:
                    for key in ("options", "choices"):
                        if isinstance(question.get(key), list):
                            question[key] = [question[key][i] for i in entry[1]]
                questions.append(question)
            results, answers = {}, row.answers or {}
            for question, (points, right) in zip(questions, row.marks or []):
                kind = question["type"]
                results[question["id"]] = {
                    "points": None if points is None else float(points),
                    "max_points": 0.0 if kind == "description" else float(question.get("points", 1)),
                    "is_correct": None if right is None else bool(right),
                    "feedback": [] if kind in ("description", "essay")
                    else grading.grade(question, answers.get(question["id"])).feedback}
            changes.append({"attempt_id": row.id, "old_questions": questions, "old_results": results})
        if changes:
            bind.execute(update, changes)

    op.drop_column('quiz_attempts', 'marks')
    op.drop_column('quiz_attempts', 'layout')
    op.drop_table('question_versions')

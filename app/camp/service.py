"""The camp's rules as plain functions: when a task opens, 打卡 and 补卡, the calendar, streaks, rankings.

`now` is always passed in (an aware UTC instant). Days are her local days, in her time zone, counted
from her programme start: a task of day N is "hers" on the date start + N - 1 and opens at the
programme's unlock time (milestones/camp.yml) of that date.
"""
import calendar as month_grid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, object_session

from app.accounts.models import User
from app.camp import feed
from app.camp import photos as uploads
from app.camp.models import CampTask, Photo, TaskCheckin
from app.camp.photos import MAX_PHOTOS
from app.checkins.models import Checkin, Programme
from app.content import snapshot
from app.cohorts.models import Cohort
from app.core.calendar import local_today, programme_day, programme_start, today_in
from app.core.calendar import zone as calendar_zone
from app.core.members import active_trainees_of
from app.core.errors import DomainError
from app.database import read

PROOFS = ("text", "photo", "number")
MAX_TEXT = 2000
MAX_NUMBER = 1_000_000
DONE, MADE_UP, MISSED, TODAY, LOCKED, NONE = "done", "made_up", "missed", "today", "locked", "none"
PERIODS = ("week", "all")


@dataclass(frozen=True)
class CampRules:
    unlock_at: time = time(8, 0)
    makeup_per_week: int = 1
    makeup_within_hours: int = 48


def camp_rules(session: Session) -> CampRules:
    """The rules synced from milestones/camp.yml; the file's defaults before the first sync."""
    return _rules(session.scalar(sa.select(Programme.camp).where(Programme.key == "default")) or {})


def _rules(settings: dict) -> CampRules:
    makeup = settings.get("makeup") or {}
    default = CampRules()
    return CampRules(
        unlock_at=time.fromisoformat(settings["unlock_at"]) if settings.get("unlock_at") else default.unlock_at,
        makeup_per_week=makeup.get("per_week", default.makeup_per_week),
        makeup_within_hours=makeup.get("within_hours", default.makeup_within_hours))


def plan(session: Session) -> list[CampTask]:
    """The camp's tasks, day by day (archived ones left out): one query."""
    return list(session.scalars(sa.select(CampTask).where(CampTask.is_archived.is_(False)).order_by(CampTask.day)))


def find_task(session: Session, key: str) -> CampTask | None:
    return session.scalar(sa.select(CampTask).where(CampTask.key == key, CampTask.is_archived.is_(False)))


# --- her days and times ------------------------------------------------------------------------

def task_date(task: CampTask, user: User) -> date:
    """The date (hers) of the task's day."""
    return programme_start(user) + timedelta(days=task.day - 1)


def _local_instant(day: date, at: time, user: User) -> datetime:
    return datetime.combine(day, at, tzinfo=calendar_zone(user.timezone)).astimezone(timezone.utc)


def unlocks_at(task: CampTask, user: User, rules: CampRules) -> datetime:
    """When the task opens, as a UTC instant: the unlock time of its day, in her time zone."""
    return _local_instant(task_date(task, user), rules.unlock_at, user)


def unlocked(task: CampTask, user: User, now: datetime, rules: CampRules | None = None) -> bool:
    # Without rules given, they are read through the session the task was loaded in.
    rules = rules or camp_rules(object_session(task))
    return now >= unlocks_at(task, user, rules)


def makeup_deadline(task: CampTask, user: User, rules: CampRules) -> datetime:
    """The last instant of the 补卡 window: `within_hours` real hours after her missed day's midnight."""
    day_ends = _local_instant(task_date(task, user) + timedelta(days=1), time(0), user)
    return day_ends + timedelta(hours=rules.makeup_within_hours)  # UTC arithmetic: a DST change counts right


def _programme_week(user: User, now: datetime) -> tuple[datetime, datetime]:
    """Her current programme week (days 1-7, 8-14, ...) as [from, to) UTC instants."""
    start = programme_start(user)
    weeks = max(0, (local_today(user, now) - start).days) // 7
    first = start + timedelta(days=7 * weeks)
    return _local_instant(first, time(0), user), _local_instant(first + timedelta(days=7), time(0), user)


# --- her 打卡 ---------------------------------------------------------------------------------

def checkins_by_task(session: Session, user: User) -> dict[int, TaskCheckin]:
    """Her 打卡, by task id: one query."""
    return {c.task_id: c for c in session.scalars(sa.select(TaskCheckin).where(TaskCheckin.user_id == user.id))}


def _makeups_used(checkins, user: User, now: datetime) -> int:
    """Make-ups she did in her current programme week (the week she makes up in, not the missed day's)."""
    week_from, week_to = _programme_week(user, now)
    return sum(1 for c in checkins if c.is_makeup and week_from <= c.created_at < week_to)


def makeup_left(session: Session, user: User, now: datetime, rules: CampRules | None = None) -> int:
    rules = rules or camp_rules(session)
    return max(0, rules.makeup_per_week - _makeups_used(checkins_by_task(session, user).values(), user, now))


def _can_make_up(task: CampTask, user: User, now: datetime, rules: CampRules, left: int) -> bool:
    """A missed past day she may still make up now (the caller knows it is not done)."""
    return left > 0 and task_date(task, user) < local_today(user, now) and now <= makeup_deadline(task, user, rules)


def _when(instant: datetime, user: User) -> dict:
    local = instant.astimezone(calendar_zone(user.timezone))
    return {"date": local.date().isoformat(), "time": local.strftime("%H:%M")}


def check_can_record(session: Session, user: User, task: CampTask, now: datetime,
                     rules: CampRules | None = None, checkins: dict | None = None) -> bool:
    """Refuse (DomainError) a task not open to her 打卡 now; True when it would be a make-up (补卡)."""
    rules = rules or camp_rules(session)
    checkins = checkins_by_task(session, user) if checkins is None else checkins
    if task.is_archived:
        raise DomainError(_l("This task is no longer part of the camp."))
    if task.id in checkins:
        raise DomainError(_l("You have already checked in for day %(day)d.", day=task.day))
    if not unlocked(task, user, now, rules):
        raise DomainError(_l("Day %(day)d's task opens on %(date)s at %(time)s.", day=task.day,
                           **_when(unlocks_at(task, user, rules), user)))
    if task_date(task, user) >= local_today(user, now):
        return False
    # A past day: a make-up, within the window and the week's allowance.
    deadline = makeup_deadline(task, user, rules)
    if now > deadline:
        raise DomainError(_l("Day %(day)d can no longer be made up: make-ups are open until %(hours)d hours "
                           "after the missed day (it closed on %(date)s at %(time)s).",
                           day=task.day, hours=rules.makeup_within_hours, **_when(deadline, user)))
    if _makeups_used(checkins.values(), user, now) >= rules.makeup_per_week:
        raise DomainError(_l("You have used this week's make-ups (%(n)d a week). Keep going with today's task!",
                           n=rules.makeup_per_week))
    return True


def parse_number(raw) -> int | None:
    """What she typed as the task's number: a whole number from 0, or None when left empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(_l("Enter a whole number, such as 12."))
    try:
        value = int(raw) if isinstance(raw, (int, float)) else int(str(raw).strip().replace(",", ""))
    except ValueError:
        raise ValueError(_l("Enter a whole number, such as 12.")) from None
    if value < 0:
        raise ValueError(_l("The number cannot be negative."))
    if value > MAX_NUMBER:
        raise ValueError(_l("That is more than %(n)d: check the number.", n=MAX_NUMBER))
    return value


def check_proof(task: CampTask, text: str, number, photo_count: int) -> tuple[str, int | None]:
    """Her text and number, cleaned; DomainError naming every field at fault (missing proof included)."""
    errors = {}
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        errors["text"] = _l("Write at most %(n)d characters.", n=MAX_TEXT)
    elif "text" in task.proof and not text:
        errors["text"] = _l("Write a few lines: this task asks for them.")
    try:
        number = parse_number(number)
    except ValueError as e:
        errors["number"] = e.args[0]
    else:
        if "number" in task.proof and number is None:
            errors["number"] = _l("Enter the number: this task asks for it.")
    if photo_count > MAX_PHOTOS:
        errors["photos"] = _l("At most %(n)d photos.", n=MAX_PHOTOS)
    elif "photo" in task.proof and photo_count == 0:
        errors["photos"] = _l("Add at least one photo: this task asks for it.")
    if errors:
        raise DomainError(fields=errors)
    return text, number


def record_task_checkin(session: Session, user: User, task: CampTask, *, text: str = "", number=None,
                        photos: list[Photo] = (), share: bool = False, now: datetime) -> TaskCheckin:
    """Her 打卡 for a task: refused (DomainError) when locked, done, missing its proof or past the 补卡 rule.

    A past day is a make-up (is_makeup). `photos` are rows already saved by app.camp.photos; they are
    attached here. `share` shows it on her cohort's wins feed. Nothing is committed: on DomainError the
    caller rolls back.
    """
    is_makeup = check_can_record(session, user, task, now)
    text, number = check_proof(task, text, number, len(photos))
    if any(p.user_id != user.id or p.checkin_id is not None or p.post_id is not None for p in photos):
        raise DomainError(_l("One of the photos cannot be used: add it again."), fields={"photos": _l("Add the photos again.")})
    checkin = TaskCheckin(user_id=user.id, task_id=task.id, day=task_date(task, user), text=text, number=number,
                          is_makeup=is_makeup, is_shared=bool(share), created_at=now, updated_at=now)
    session.add(checkin)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # the same 打卡 sent twice at once: the other one won
        raise DomainError(_l("You have already checked in for day %(day)d.", day=task.day)) from None
    for photo in photos:
        photo.checkin_id = checkin.id
    session.flush()
    if share:
        feed.share_checkin(session, checkin, now)
    return checkin


def submit_task_checkin(session: Session, user: User, task: CampTask, *, text: str = "", number=None,
                        share: bool = False, files=(), now: datetime) -> tuple[TaskCheckin, bool]:
    """Her 打卡 (or 补卡) as the web form and the API send it, with the uploaded `files`; returns (check-in,
    is_makeup). Everything that can be refused is checked before any photo is stored; on a DomainError the
    stored photos' files are gone again and the caller rolls back."""
    files = uploads.chosen_files(files)
    is_makeup = check_can_record(session, user, task, now)
    check_proof(task, text, number, len(files))
    try:
        saved = uploads.save_uploads(session, user, files, now, limit=MAX_PHOTOS)
    except DomainError as e:  # save_uploads kept none of them
        raise DomainError(e.message, fields={"photos": e.message}, status=e.status, code=e.code) from None
    try:
        checkin = record_task_checkin(session, user, task, text=text, number=number, photos=saved, share=share,
                                      now=now)
    except BaseException:
        uploads.discard(saved)  # their rows are rolled back by the caller: so go their files
        raise
    return checkin, is_makeup


def has_earnings_checkin(session: Session, user: User, now: datetime) -> bool:
    """Whether she has done today's earnings check-in (the /checkin one): one query."""
    return session.scalar(sa.select(sa.exists().where(
        Checkin.user_id == user.id, Checkin.day == local_today(user, now), Checkin.source != "shop"))) or False


# --- today -----------------------------------------------------------------------------------------

@dataclass
class Upcoming:
    task: CampTask
    unlocks_at: datetime


@dataclass
class Today:
    """Her camp today: the day's task and its state, what is next, what she may still make up."""

    programme_day: int
    date: date              # her local today
    start: date             # her day 1
    task: CampTask | None
    is_unlocked: bool
    unlocks_at: datetime | None
    checkin: TaskCheckin | None
    next_task: CampTask | None
    upcoming: list[Upcoming] = field(default_factory=list)
    makeups: list[Upcoming] = field(default_factory=list)   # missed tasks she may still make up (until when)
    makeup_left: int = 0
    streak: tuple[int, int] = (0, 0)

    @property
    def is_done(self) -> bool:
        return self.checkin is not None


def today(session: Session, user: User, now: datetime) -> Today:
    """Everything the /today page and the API show: three queries (rules, plan, her 打卡)."""
    rules, tasks, checkins = camp_rules(session), plan(session), checkins_by_task(session, user)
    day, local = programme_day(user, now), local_today(user, now)
    task = next((t for t in tasks if t.day == day), None)
    left = max(0, rules.makeup_per_week - _makeups_used(checkins.values(), user, now))
    later = [t for t in tasks if t.day > day]
    return Today(
        programme_day=day, date=local, start=programme_start(user), task=task,
        is_unlocked=task is not None and unlocked(task, user, now, rules),
        unlocks_at=unlocks_at(task, user, rules) if task else None,
        checkin=checkins.get(task.id) if task else None,
        next_task=later[0] if later else None,
        upcoming=[Upcoming(t, unlocks_at(t, user, rules)) for t in later],
        makeups=[Upcoming(t, makeup_deadline(t, user, rules)) for t in tasks
                 if t.day < day and t.id not in checkins and _can_make_up(t, user, now, rules, left)],
        makeup_left=left, streak=_streaks(tasks, checkins, day))


@dataclass
class Glance:
    """What home shows of her camp today (the fields it reads of `Today`)."""

    programme_day: int
    task: CampTask | None   # the content snapshot's copy
    is_unlocked: bool
    unlocks_at: datetime | None
    is_done: bool


def glance(session: Session, user: User, now: datetime) -> Glance:
    """Her camp today at a glance, for home: the plan and rules from the content snapshot, then whether
    her 打卡 for today's task is in (one query; none on a day without a task)."""
    content = snapshot.current(session)
    rules = _rules((content.programme.camp if content.programme else None) or {})
    day = programme_day(user, now)
    task = next((t for t in content.camp_tasks if t.day == day), None)
    return Glance(
        programme_day=day, task=task, is_unlocked=task is not None and unlocked(task, user, now, rules),
        unlocks_at=unlocks_at(task, user, rules) if task else None,
        is_done=task is not None and bool(read(session, _TASK_DONE, {"user_id": user.id, "task_id": task.id}).scalar()))


# Built once (home asks it on every request): has she done this task's 打卡? Parameters user_id, task_id.
_TASK_DONE = sa.select(sa.exists().where(TaskCheckin.user_id == sa.bindparam("user_id"),
                                         TaskCheckin.task_id == sa.bindparam("task_id")))


# --- streaks and the calendar ------------------------------------------------------------------------

def _streaks(tasks: list[CampTask], checkins: dict, day: int) -> tuple[int, int]:
    """(current, longest) run of task days done, on time or made up, up to her day `day`.

    Days without a task neither count nor break a run; today's task not yet done does not break it.
    """
    run = longest = 0
    for task in tasks:
        if task.day > day:
            break
        if task.id in checkins:
            run += 1
            longest = max(longest, run)
        elif task.day < day:
            run = 0
    return run, longest


def streak(session: Session, user: User, now: datetime) -> tuple[int, int]:
    """(current, longest): two queries."""
    return _streaks(plan(session), checkins_by_task(session, user), programme_day(user, now))


@dataclass
class CalendarDay:
    date: date
    programme_day: int
    task: CampTask | None
    state: str              # done, made_up, missed, today, locked, none
    is_today: bool
    can_make_up: bool = False


@dataclass
class CalendarMonth:
    month: date                                   # its first day
    weeks: list[list[CalendarDay | None]]         # Monday first; None for the days of other months
    previous: date
    following: date
    streak: tuple[int, int]
    makeup_left: int

    @property
    def days(self) -> list[CalendarDay]:
        return [d for week in self.weeks for d in week if d is not None]


def _day_state(task: CampTask | None, checkin: TaskCheckin | None, day: date, local: date) -> str:
    if task is None:
        return NONE
    if checkin is not None:
        return MADE_UP if checkin.is_makeup else DONE
    if day == local:
        return TODAY
    return MISSED if day < local else LOCKED


def calendar(session: Session, user: User, now: datetime, month: date | None = None) -> CalendarMonth:
    """The month's grid (her local today's month by default), each day with its state: three queries."""
    rules, tasks, checkins = camp_rules(session), plan(session), checkins_by_task(session, user)
    local, start = local_today(user, now), programme_start(user)
    first = (month or local).replace(day=1)
    by_date = {start + timedelta(days=t.day - 1): t for t in tasks}
    left = max(0, rules.makeup_per_week - _makeups_used(checkins.values(), user, now))

    def cell(day: date) -> CalendarDay:
        task = by_date.get(day)
        state = _day_state(task, checkins.get(task.id) if task else None, day, local)
        return CalendarDay(day, (day - start).days + 1, task, state, day == local,
                           state == MISSED and _can_make_up(task, user, now, rules, left))

    weeks = [[cell(d) if d.month == first.month else None for d in week]
             for week in month_grid.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)]
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return CalendarMonth(first, weeks, previous, following, _streaks(tasks, checkins, (local - start).days + 1), left)


# --- rankings ------------------------------------------------------------------------------------------

@dataclass
class RankingRow:
    rank: int
    user_id: int
    name: str
    tasks_done: int
    streak: int
    earnings_fen: int | None     # only when the cohort ranks by earnings and she shares hers


def cohort_week(cohort: Cohort, now: datetime) -> tuple[date, date]:
    """The cohort's current camp week (its days 1-7, 8-14, ...), first and last date, in its time zone."""
    today_there = today_in(cohort.timezone, now)
    first = cohort.start_date + timedelta(days=7 * (max(0, (today_there - cohort.start_date).days) // 7))
    return first, first + timedelta(days=6)


def rankings(session: Session, cohort: Cohort, now: datetime, period: str = "week") -> list[RankingRow]:
    """The cohort's active trainees by tasks done, then current streak: four queries whatever its size.

    "week" counts the 打卡 of the cohort's current camp week, "all" every one; earnings (this week's or in
    all) only for members who share them, and only when the cohort shows earnings at all.
    """
    if period not in PERIODS:
        raise ValueError(f"period is one of {PERIODS}")
    members = list(session.scalars(sa.select(User).where(*active_trainees_of(cohort.id))))
    tasks = plan(session)
    active = {t.id for t in tasks}
    done: dict[int, dict[int, date]] = {m.id: {} for m in members}   # user -> {task id: day}
    for user_id, task_id, day in session.execute(
            sa.select(TaskCheckin.user_id, TaskCheckin.task_id, TaskCheckin.day)
            .join(User, User.id == TaskCheckin.user_id).where(User.cohort_id == cohort.id)):
        if task_id in active and user_id in done:
            done[user_id][task_id] = day
    week = cohort_week(cohort, now) if period == "week" else None
    earnings = _shared_earnings(session, cohort, week) if cohort.rank_by_earnings else {}
    rows = []
    for member in members:
        counted = [d for d in done[member.id].values() if week is None or week[0] <= d <= week[1]]
        rows.append(RankingRow(0, member.id, member.name, len(counted),
                               _streaks(tasks, done[member.id], programme_day(member, now))[0],
                               earnings.get(member.id, 0) if cohort.rank_by_earnings and member.shares_earnings
                               else None))
    return _ranked(rows)


def _shared_earnings(session: Session, cohort: Cohort, week: tuple[date, date] | None) -> dict[int, int]:
    """Earnings (fen) of the members who share them: one grouped query."""
    query = (sa.select(Checkin.user_id, sa.func.sum(Checkin.earnings_fen)).join(User, User.id == Checkin.user_id)
             .where(User.cohort_id == cohort.id, User.shares_earnings.is_(True)).group_by(Checkin.user_id))
    if week is not None:
        query = query.where(Checkin.day.between(*week))
    return {user_id: int(total or 0) for user_id, total in session.execute(query)}


def _ranked(rows: list[RankingRow]) -> list[RankingRow]:
    """Sorted best first; equal tasks and streak share a rank (1, 2, 2, 4)."""
    rows.sort(key=lambda r: (-r.tasks_done, -r.streak, r.name.casefold(), r.user_id))
    for index, row in enumerate(rows):
        same = index and (rows[index - 1].tasks_done, rows[index - 1].streak) == (row.tasks_done, row.streak)
        row.rank = rows[index - 1].rank if same else index + 1
    return rows

"""Outbox message -> words in the recipient's language, at sending time, from milestones/reminders.yml.

Rendering at sending time (not when the rule ran) means a message says what is true when it
arrives, in the language she uses now; `no_longer_due()` drops what she has done meanwhile.
"""
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import force_locale, gettext
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.camp.models import CampTask, TaskCheckin
from app.checkins import service as checkins
from app.config import base_url
from app.checkins.models import Checkin, Milestone
from app.content.render import markdown_text
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes.models import Quiz
from app.reminders import preferences
from app.reminders.channels import Rendered
from app.reminders.models import ROBOT_CHANNELS, OutboxMessage, ReminderPreference
from app.core.calendar import local_today, programme_start
from app.core.money import display_yuan
from app.i18n import lang_for
from app.core.members import active_trainees_of

LINKS = {"task_unlocked": "/today", "checkin_due": "/checkin", "checkin_missed": "/checkin", "behind": "/progress",
         "milestone_achieved": "/progress", "nudge": "/inbox", "mentor_digest": "/cohorts",
         "group_digest": "/checkin", "robot_failed": "/admin/outbox"}


# Values people typed (names, a cohort's name, an error a server sent): text, never Markdown, in the
# inbox, which shows a message's body as Markdown. (A mentor's nudge text stays hers to format.)
TYPED_VALUES = ("names", "mentor", "cohort", "reason")


class Renderer:
    """Caches what every message of a dispatch pass needs: the texts, the content's titles."""

    def __init__(self, session: Session):
        self.session = session
        programme = checkins.get_programme(session)
        self.programme = programme
        self.defaults = programme.reminders or {}
        self.rules = self.defaults.get("rules", {})
        self.milestones = {m.key: m for m in session.scalars(sa.select(Milestone))}
        self.lessons = [(f"{course.slug}/{lesson.slug}", lesson) for lesson, course in session.execute(
            sa.select(Lesson, Course).join(Lesson.course).where(Lesson.is_archived.is_(False), Course.is_archived.is_(False))
            .order_by(Course.position, Lesson.position))]
        self.lesson_by_key = dict(self.lessons)
        self._preferences: dict[int, ReminderPreference | None] = {}

    # --- preferences ------------------------------------------------------------------------

    def prime(self, user_ids) -> None:
        wanted = [i for i in set(user_ids) if i is not None and i not in self._preferences]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            found = {p.user_id: p for p in self.session.scalars(
                sa.select(ReminderPreference).where(ReminderPreference.user_id.in_(chunk)))}
            self._preferences.update((i, found.get(i)) for i in chunk)

    def preference(self, user_id: int) -> ReminderPreference | None:
        if user_id not in self._preferences:
            self.prime([user_id])
        return self._preferences[user_id]

    # --- still due? -------------------------------------------------------------------------

    def no_longer_due(self, messages: list[OutboxMessage], now: datetime) -> set[int]:
        """Ids of messages about something she has done since the rule wrote them."""
        self.prime(m.user_id for m in messages)
        users = {m.user_id for m in messages
                 if m.rule in ("checkin_due", "checkin_missed", "behind", "no_lesson", "task_unlocked")}
        if not users:
            return set()
        last_day = dict(self.session.execute(sa.select(Checkin.user_id, sa.func.max(Checkin.day))
                                             .where(Checkin.user_id.in_(users)).group_by(Checkin.user_id)).all())
        last_lesson = {user_id: max(filter(None, (started, completed)), default=None)
                       for user_id, started, completed in self.session.execute(
                           sa.select(LessonProgress.user_id, sa.func.max(LessonProgress.started_at),
                                     sa.func.max(LessonProgress.completed_at))
                           .where(LessonProgress.user_id.in_(users)).group_by(LessonProgress.user_id))}
        tasks_done = set(map(tuple, self.session.execute(
            sa.select(TaskCheckin.user_id, CampTask.key).join(CampTask, CampTask.id == TaskCheckin.task_id)
            .where(TaskCheckin.user_id.in_(users)))))
        done = set()
        for message in messages:
            if message.rule == "task_unlocked" and (message.user_id, message.params["task"]) in tasks_done:
                done.add(message.id)
            if message.rule in ("checkin_due", "checkin_missed"):
                day = last_day.get(message.user_id)
                if day is not None and day >= date.fromisoformat(message.params["date"]):
                    done.add(message.id)
            elif message.rule == "no_lesson":
                seen = last_lesson.get(message.user_id)
                if seen is not None and seen > message.created_at:
                    done.add(message.id)
            elif message.rule == "behind" and message.user is not None:
                if self._status(message.user, message.params["milestone"], now) != checkins.BEHIND:
                    done.add(message.id)
        return done

    def _status(self, user: User, milestone_key: str, now: datetime) -> str | None:
        milestone = self.milestones.get(milestone_key)
        if milestone is None:
            return None
        progress = checkins.milestone_status(milestone, checkins.checkins_of(self.session, user.id),
                                             programme_start(user), local_today(user, now),
                                             self.programme.behind_margin_percent)
        return progress.status

    # --- words ------------------------------------------------------------------------------

    def render(self, message: OutboxMessage) -> Rendered | None:
        """The message's words, or None when there is nothing to say any more."""
        lang = "zh" if message.channel in ROBOT_CHANNELS else lang_for(message.user)
        values = dict(message.params)
        mentions: list[str] = []
        link_path = LINKS.get(message.rule)
        rule = message.rule
        if rule in ("no_lesson", "behind"):
            lesson = self.lesson_by_key.get(values.get("lesson") or "") or self._next_lesson(message.user_id)
            values["lesson"] = lesson.text("title", lang) if lesson else ""
            link_path = f"/courses/{lesson.course.slug}/{lesson.slug}" if lesson else "/courses"
        if rule in ("behind", "milestone_achieved"):
            milestone = self.milestones.get(values["milestone"])
            if milestone is None:
                return None
            values["milestone"] = milestone.text("title", lang)
            if rule == "behind":
                money = milestone.metric == "earnings"
                values["current"] = display_yuan(values["current"]) if money else values["current"]
                values["target"] = display_yuan(milestone.target) if money else milestone.target
        if rule == "task_unlocked":
            task = self.session.scalar(sa.select(CampTask).where(CampTask.key == values["task"]))
            if task is None:
                return None
            values["task"] = task.text("title", lang)
        if rule == "essay_reviewed":
            quiz = self.session.get(Quiz, values["quiz_id"])
            if quiz is None:
                return None
            values["quiz"] = quiz.text("title", lang)
            link_path = f"/attempts/{values['attempt_id']}/result"
        # The body's values: typed ones escaped where the body is read as Markdown (the titles are plain text).
        inbox = message.channel == "inapp"
        typed = {name: markdown_text(str(values[name])) for name in TYPED_VALUES
                 if inbox and isinstance(values.get(name), str)}
        if rule == "mentor_digest":
            names = values.get("names", [])
            values["names"] = "\n".join(f"• {name}" for name in names)
            if inbox:
                typed["names"] = "\n".join(f"• {markdown_text(name)}" for name in names)
        if rule == "group_digest":
            missing = self._not_checked_in(message.cohort_id, date.fromisoformat(values["date"]))
            if not missing:
                return None
            values["count"] = len(missing)
            mentions = [mobile for mobile, mention in missing if mobile and mention]
        if rule == "robot_failed":
            with force_locale("en" if lang == "en" else "zh_CN"):
                title = gettext("The group robot of %(cohort)s does not work", cohort=values["cohort"])
                body = gettext("Reminders to its group stopped: %(reason)s. Check the webhook in the cohort's "
                               "settings, then retry the dead messages.", reason=typed.get("reason", values["reason"]))
        elif rule == "password_changed":   # a security notice: fixed words, no unsubscribe link
            with force_locale("en" if lang == "en" else "zh_CN"):
                title = gettext("Your password was changed")
                body = gettext("If this wasn't you, contact your mentor or an admin at once.")
        else:
            texts = self.rules.get(rule)
            if texts is None:
                return None
            title = texts["title"][lang].format_map(values)
            body = texts["body"][lang].format_map({**values, **typed})
        base = base_url()
        unsubscribe = None
        if message.channel == "email" and message.user_id is not None and rule != "password_changed":
            token = preferences.unsubscribe_token(message.user_id, message.category)
            unsubscribe = f"{base}/unsubscribe/{token}"
        return Rendered(lang=lang, title=title, body=body, link=f"{base}{link_path}" if link_path else None,
                        category=message.category, mentions=mentions, unsubscribe_url=unsubscribe, values=values)

    def _next_lesson(self, user_id: int | None) -> Lesson | None:
        done = set(self.session.scalars(sa.select(LessonProgress.lesson_id).where(
            LessonProgress.user_id == user_id, LessonProgress.completed_at.is_not(None))))
        return next((lesson for _, lesson in self.lessons if lesson.id not in done), None)

    def _not_checked_in(self, cohort_id: int, day: date) -> list[tuple[str | None, bool]]:
        """(mobile, may be @-mentioned) of the cohort's active trainees without a check-in that day."""
        checked = sa.select(Checkin.user_id).where(Checkin.day == day)
        rows = self.session.execute(
            sa.select(User.mobile, ReminderPreference.group_mention)
            .outerjoin(ReminderPreference, ReminderPreference.user_id == User.id)
            .where(*active_trainees_of(cohort_id),
                   User.id.not_in(checked)).order_by(User.id))
        return [(mobile, mention is not False) for mobile, mention in rows]

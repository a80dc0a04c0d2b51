"""Canned replies: the catalog's wording (intake.content.CANNED) in each language, unless an administrator
reworded it for that language in the console. Clearing the new wording brings the catalog's back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from intake import content as c
from intake.i18n import Catalogs
from intake.keywords import Keyword, KeywordTable
from intake.storage.canned import CannedReplies
from intake.storage.uow import Database

MAX_CHARS = 1000
# The erase word in the person's language: the catalog's texts name it, and a reworded text may too.
DELETE = "{delete}"


class CannedError(ValueError):
    """A change that cannot be made (an unknown reply or language, a text too long): a 400 to the client."""


@dataclass(frozen=True)
class CannedReply:
    key: str
    lang: str
    # What staff insert: the administrator's wording if there is one, else the catalog's.
    text: str
    # The catalog's wording in this language, shown beside the edited one.
    default: str
    edited: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


class CannedTexts:
    def __init__(
        self, db: Database, catalogs: Catalogs, keywords: KeywordTable, clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.catalogs = catalogs
        self.keywords = keywords
        self.clock = clock

    @property
    def languages(self) -> tuple[str, ...]:
        return self.catalogs.languages

    def _fill(self, text: str, lang: str) -> str:
        # A plain replace, not str.format: an administrator's braces are text, never a field.
        return text.replace(DELETE, self.keywords.word(Keyword.DELETE, lang))

    def _default(self, key: str, lang: str) -> str:
        return self._fill(self.catalogs.texts(lang)(c.CANNED[key]), lang)

    def _check(self, key: str, lang: str) -> None:
        if key not in c.CANNED:
            raise CannedError(f"no canned reply {key!r} (known: {', '.join(c.CANNED)})")
        if lang not in self.languages:
            raise CannedError(f"no language {lang!r} (known: {', '.join(self.languages)})")

    async def for_language(self, lang: str) -> list[CannedReply]:
        """The replies staff choose from in a conversation in this language, in the catalog's order."""
        return [r for r in await self._replies((lang,)) if r.lang == lang]

    async def every_language(self) -> list[CannedReply]:
        """Every reply in every language: what the administrators' screen lists."""
        return await self._replies(self.languages)

    async def _replies(self, languages: Sequence[str]) -> list[CannedReply]:
        async with self.db.reader() as uow:
            rows = await CannedReplies(uow.session).all(languages[0] if len(languages) == 1 else None)
            edited = {(r.key, r.lang): (r.text, r.updated_by, r.updated_at) for r in rows}
        replies = []
        for key in c.CANNED:
            for lang in languages:
                default = self._default(key, lang)
                found = edited.get((key, lang))
                if found is None:
                    replies.append(CannedReply(key, lang, default, default, edited=False))
                else:
                    text, by, at = found
                    replies.append(CannedReply(key, lang, self._fill(text, lang), default, True, by, at))
        return replies

    async def change(self, key: str, lang: str, text: str, by: str) -> CannedReply:
        """Saves an administrator's wording; an empty (or blank) text brings the catalog's back."""
        self._check(key, lang)
        text = text.strip()
        if len(text) > MAX_CHARS:
            raise CannedError(f"a canned reply has at most {MAX_CHARS} characters")
        default = self._default(key, lang)
        if not text:
            await self.reset(key, lang)
            return CannedReply(key, lang, default, default, edited=False)
        now = self.clock()
        async with self.db.uow() as uow:
            await CannedReplies(uow.session).put(key, lang, text, by, now)
            await uow.commit()
        return CannedReply(key, lang, self._fill(text, lang), default, True, by, now)

    async def reset(self, key: str, lang: str) -> bool:
        """Back to the catalog's wording; whether there was another."""
        self._check(key, lang)
        async with self.db.uow() as uow:
            cleared = await CannedReplies(uow.session).clear(key, lang)
            await uow.commit()
        return cleared

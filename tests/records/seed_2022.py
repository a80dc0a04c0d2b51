"""A year shaped like the seed annual report's 2022 figures (chapters 4 and 5), and the 76 records of 2021.

Where the report gives no figure (the months, channels, roles beyond "45 about themselves", topics) the
numbers here are made up, within what its text says: most by phone, March and September the busiest
months, April and October the quietest.
"""

from __future__ import annotations

from itertools import cycle
from typing import Any

# 111 first-time contacts by month.
MONTHS = {1: 9, 2: 9, 3: 15, 4: 4, 5: 9, 6: 8, 7: 7, 8: 9, 9: 15, 10: 4, 11: 11, 12: 11}
INDIVIDUAL = 88
INFORMATION = 23
ROLES = {"self": 45, "family": 21, "network": 12, "professional": 10}
AGES = {"under_18": 16, "adult": 61, "not_stated": 11}
# The report: 67 women, 18 men, 3 not stated and 1 trans person: 89 of its 88 individual inquiries. Its
# total holds here, so one woman fewer.
GENDERS = {"woman": 66, "man": 18, "not_stated": 3, "trans": 1}
CHANNELS = {"phone": 70, "email": 8, "whatsapp": 6, "in_person": 4}
COUNTRIES = {"RU": 4, "IQ": 1, "SO": 6, "PK": 5, "AF": 3, "SY": 2}
TOPIC_SETS = cycle(
    [["social_control"], ["honour_violence", "social_control"], ["forced_marriage_pressure"],
     ["abroad_threat"], ["abroad", "social_control"], ["forced_marriage_leaving", "close_violence"],
     ["fgm"], ["virginity"], ["forced_marriage_religious_divorce"], ["other"], ["forced_marriage_kept"]]
)  # fmt: skip
FOLLOW_UP = 21

# Tables 5.2 and 5.3: follow-up activities for users from the shelters and from the helpline (5.3 prints
# a total of 164; its figures, each confirmed by section 5.4, add up to 165).
TABLE_5_2 = {"contact_person": 425, "practical_help": 27, "referral": 73, "nav": 40, "police": 16,
             "shelter": 17, "expert_team": 3, "child_welfare": 1, "external_meeting": 14, "in_person": 79,
             "mail_agreement": 20}  # fmt: skip
TABLE_5_3 = {"contact_person": 88, "practical_help": 7, "referral": 13, "nav": 5, "police": 2, "shelter": 1,
             "expert_team": 11, "child_welfare": 3, "external_meeting": 1, "in_person": 25,
             "mail_agreement": 9}  # fmt: skip
# 5.1: 45 users; 28 from the shelters, 11 first-time callers, 6 anonymous without a consent form.
USERS = {"shelter": 28, "helpline": 11, "anonymous": 6}


def _spread(counts: dict[str, int]) -> list[str]:
    return [value for value, n in counts.items() for _ in range(n)]


def months() -> list[str]:
    return [f"2022-{month:02d}" for month, n in MONTHS.items() for _ in range(n)]


def individual_records() -> list[dict[str, Any]]:
    """The 88 individual inquiries, as the API takes them."""
    countries = _spread(COUNTRIES) + [None] * (INDIVIDUAL - sum(COUNTRIES.values()))
    columns = zip(
        months()[:INDIVIDUAL], _spread(ROLES), _spread(AGES), _spread(GENDERS), _spread(CHANNELS), countries,
        strict=True,
    )  # fmt: skip
    return [
        {"month": month, "channel": channel, "role": role, "kind": "individual", "age_group": age,
         "gender": gender, "topics": next(TOPIC_SETS), "country": country, "follow_up": i < FOLLOW_UP}
        for i, (month, role, age, gender, channel, country) in enumerate(columns)
    ]  # fmt: skip


def information_csv() -> str:
    """The 23 information requests, as a spreadsheet to import."""
    rows = [f"{month},email,professional,information,,,social_control;forced_marriage,,false"
            for month in months()[INDIVIDUAL:]]  # fmt: skip
    return "month,channel,role,kind,age_group,gender,topics,country,follow_up\n" + "\n".join(rows) + "\n"


def year_2021_csv() -> str:
    rows = [
        f"2021-{1 + i % 12:02d},phone,self,individual,adult,woman,social_control,,false" for i in range(76)
    ]
    return "month,channel,role,kind,age_group,gender,topics,country,follow_up\n" + "\n".join(rows) + "\n"


def activity_dates(n: int) -> list[str]:
    return [f"2022-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)]

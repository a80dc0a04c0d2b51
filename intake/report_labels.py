"""The report's words in Norwegian (the report's own) and English: titles and category labels by id.

The report is for the line's staff, board and funders, in nb or en; the person-facing texts of the bot
are in the catalogs, in every language.
"""

from __future__ import annotations

from babel.dates import get_month_names

from intake.countries import country_names

L = dict[str, tuple[str, str]]

TITLES: L = {
    "report": ("Årsrapport {year}: førstegangshenvendelser og oppfølging",
               "Annual report {year}: first-time contacts and follow-up"),
    "first_contacts": ("Førstegangshenvendelser", "First-time contacts"),
    "by_month": ("Førstegangshenvendelser per måned", "First-time contacts by month"),
    "by_channel": ("Kanal", "Channel"),
    "by_role": ("Hvem som tok kontakt (enkeltsaker)", "Who got in touch (individual cases)"),
    "by_age_group": ("Alder (enkeltsaker)", "Age (individual cases)"),
    "by_gender": ("Kjønn (enkeltsaker)", "Gender (individual cases)"),
    "by_topic": ("Årsak til henvendelse (flere per henvendelse)", "Reason for contact (several per contact)"),
    "by_subtopic": ("Underkategorier", "Sub-kinds"),
    "by_country": ("Landbakgrunn (enkeltsaker)", "Country background (individual cases)"),
    "follow_up_cases": ("Oppført som oppfølgingssak", "Registered as a follow-up case"),
    "cases/by_origin": ("Brukere i året etter opphav", "Users during the year by origin"),
    "cases/opened_by_origin": ("Nye brukere i året", "New users during the year"),
    "cases/with_consent_by_origin": ("Brukere med signert samtykkeskjema",
                                     "Users with a signed consent form"),
    "cases/with_consent_by_age_group": ("Alder, brukere med samtykke", "Age, users with consent"),
    "cases/with_consent_by_gender": ("Kjønn, brukere med samtykke", "Gender, users with consent"),
    "activities": ("Oppfølging: {origin}", "Follow-up: {origin}"),
    "activities_by_month": ("Oppfølgingsaktiviteter per måned", "Follow-up activities by month"),
    "concern_decisions": ("Vurderinger av meldeplikt og avvergingsplikt", "Concern decisions"),
    "change": ("Endring fra året før", "Change from the year before"),
    "previous_year_total": ("Førstegangshenvendelser året før", "First-time contacts the year before"),
    "category": ("Kategori", "Category"),
    "count": ("Antall", "Count"),
    "legend": ("<5: 1–4 (skjult). x: skjult for å beskytte et lite tall. ..: ikke publisert.",
               "<5: 1–4 (hidden). x: hidden to protect a small count. ..: not published."),
    "download": ("Last ned", "Download"),
}  # fmt: skip

LABELS: L = {
    "total": ("Totalt", "Total"),
    "individual": ("Enkeltsaker", "Individual cases"),
    "information": ("Kunnskaps- og informasjonsformidling", "Information requests"),
    "not_stated": ("Ikke oppgitt", "Not stated"),
    "other": ("Annet", "Other"),
    # channels
    "sms": ("SMS", "SMS"), "whatsapp": ("WhatsApp", "WhatsApp"), "telegram": ("Telegram", "Telegram"),
    "webchat": ("Chat", "Web chat"), "phone": ("Telefon", "Phone"), "email": ("E-post", "E-mail"),
    "in_person": ("Fysisk oppmøte", "In person"),
    # roles
    "self": ("Selv utsatt", "The person affected"), "family": ("Familie", "Family"),
    "network": ("Øvrig nettverk", "Other network"),
    "professional": ("Andre organisasjoner og fagpersoner", "Other organisations and professionals"),
    # age, gender
    "under_18": ("Under 18 år", "Under 18"), "adult": ("18 år eller eldre", "18 or over"),
    "woman": ("Kvinne", "Woman"), "man": ("Mann", "Man"), "trans": ("Transperson", "Trans person"),
    # topics
    "social_control": ("Negativ sosial kontroll", "Negative social control"),
    "forced_marriage": ("Tvangsekteskap", "Forced marriage"),
    "fgm": ("Kjønnslemlestelse", "Female genital mutilation"),
    "abroad": ("Ufrivillig utenlandsopphold", "Involuntary stay abroad"),
    "honour_violence": ("Andre former for æresrelatert vold", "Other honour-related violence"),
    "close_violence": ("Vold i nære relasjoner", "Violence in close relationships"),
    "virginity": ("Jomfruhinne", "Virginity"),
    "forced_marriage_pressure": ("Tvangsekteskap: press om å gifte seg",
                                 "Forced marriage: pressure to marry"),
    "forced_marriage_kept": ("Tvangsekteskap: holdt i ekteskap", "Forced marriage: kept in a marriage"),
    "forced_marriage_leaving": ("Tvangsekteskap: trusler ved brudd", "Forced marriage: threats on leaving"),
    "forced_marriage_religious_divorce": ("Tvangsekteskap: religiøs skilsmisse",
                                          "Forced marriage: religious divorce"),
    "abroad_threat": ("Trussel om ufrivillig utenlandsopphold", "Threat of being left abroad"),
    # case origins
    "shelter": ("Fra bo- og støttetilbudene", "From the shelters and support homes"),
    "helpline": ("Fra hjelpelinjen", "First-time contacts of the line"),
    "anonymous": ("Anonyme uten samtykkeskjema", "Anonymous, no consent form"),
    # activities
    "contact_person": ("Telefon/mail med person", "Phone or e-mail with the person"),
    "practical_help": ("Praktisk hjelp til søknad/diverse", "Practical help with applications"),
    "referral": ("Kontakt/overføring andre relevante instanser", "Contact or referral to other services"),
    "nav": ("Kontakt med NAV", "Contact with NAV"),
    "police": ("Kontakt med politi", "Contact with police"),
    "expert_team": ("Kontakt/overføring Kompetanseteamet", "Contact with the national expert team"),
    "child_welfare": ("Kontakt med barnevern", "Contact with child welfare"),
    "external_meeting": ("Møte med eksterne instanser", "Meeting with external services"),
    "mail_agreement": ("Postavtale", "Mail agreement"),
    # concern decisions
    "notify_child_welfare": ("Opplysningsplikt til barnevernet", "Duty to notify child welfare"),
    "avert": ("Avvergingsplikt", "Duty to avert"),
    "acted": ("Meldt/varslet", "Notified"), "not_acted": ("Ikke meldt", "Not notified"),
}  # fmt: skip
# Ids that mean one thing in one table and another elsewhere.
IN_TABLE: dict[str, L] = {
    "activities": {"shelter": ("Kontakt med botilbudene", "Contact with the shelters"),
                   "in_person": ("Fysiske møter med enkeltpersoner", "In-person meetings")},
}  # fmt: skip


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "nb" else pair[1]


def title(key: str, lang: str, **values: object) -> str:
    return _pick(TITLES[key], lang).format(**values)


def label(table: str, key: str, lang: str) -> str:
    """A row's label: a month, a country, or a category id."""
    if len(key) == 7 and key[4] == "-" and key[:4].isdigit():
        return str(get_month_names("wide", locale=lang)[int(key[5:])]).capitalize()
    if len(key) == 2 and key.isupper():
        return country_names(lang).get(key, key)
    pair = IN_TABLE.get(table.split("/")[0], {}).get(key) or LABELS.get(key)
    return _pick(pair, lang) if pair else key

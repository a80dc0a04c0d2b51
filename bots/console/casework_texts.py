"""The words of the console's record, case and statistics pages, in Norwegian and English (staff only)."""

from __future__ import annotations

from intake.report_labels import title

TEXTS: dict[str, tuple[str, str]] = {
    "console": ("Samtaler", "Conversations"),
    "register": ("Registrer en henvendelse", "Register a contact"),
    "register_intro": ("For henvendelser som ikke kom gjennom boten: telefon, e-post, oppmøte.",
                       "For contacts that did not come through the bot: phone, e-mail, in person."),
    "cases": ("Oppfølgingssaker", "Follow-up cases"),
    "statistics": ("Statistikk", "Statistics"),
    "channel": ("Kanal", "Channel"),
    "month": ("Måned", "Month"),
    "role": ("Hvem tok kontakt", "Who got in touch"),
    "kind": ("Type henvendelse", "Kind of inquiry"),
    "age_group": ("Alder", "Age group"),
    "gender": ("Kjønn", "Gender"),
    "topics": ("Tema", "Topics"),
    "country": ("Landbakgrunn", "Country background"),
    "follow_up": ("Oppfølgingssak", "Follow-up case"),
    "save": ("Lagre", "Save"),
    "saved": ("Registrert.", "Registered."),
    "open_case": ("Opprett sak", "Open a case"),
    "origin": ("Opphav", "Origin"),
    "consent_date": ("Samtykkeskjema signert", "Consent form signed"),
    "alias": ("Kallenavn (kryptert, bare for ansatte)", "Alias (encrypted, staff only)"),
    "opened_on": ("Opprettet", "Opened"),
    "responsible": ("Ansvarlig", "Responsible"),
    "status": ("Status", "Status"),
    "open": ("Åpen", "Open"),
    "closed": ("Lukket", "Closed"),
    "code": ("Kode", "Code"),
    "no_cases": ("Ingen saker ennå.", "No cases yet."),
    "activities": ("Aktiviteter", "Activities"),
    "log_activity": ("Registrer aktivitet", "Log an activity"),
    "activity": ("Aktivitet", "Activity"),
    "date": ("Dato", "Date"),
    "note": ("Notat (kryptert)", "Note (encrypted)"),
    "decisions": ("Vurderinger av meldeplikt og avvergingsplikt", "Concern decisions"),
    "add_decision": ("Registrer vurdering", "Record a decision"),
    "duty": ("Plikt", "Duty"),
    "decision": ("Beslutning", "Decision"),
    "reason": ("Begrunnelse", "Reason"),
    "by": ("Av", "By"),
    "close_case": ("Lukk saken", "Close the case"),
    "no_address": ("Skriv aldri adresse eller fødselsnummer her.",
                   "Never write an address or national id here."),
    "year": ("År", "Year"),
    "show": ("Vis", "Show"),
    "downloads": ("Last ned", "Download"),
    "public": ("til publisering (små tall skjult)", "for publication (small counts hidden)"),
    "full": ("alle tall (internt)", "every count (internal)"),
    "not_stated": ("Ikke oppgitt", "Not stated"),
    "error": ("Noe gikk galt. Prøv igjen.", "Something went wrong. Try again."),
}  # fmt: skip


def texts(lang: str) -> dict[str, str]:
    words = {key: pair[0] if lang == "nb" else pair[1] for key, pair in TEXTS.items()}
    words["legend"] = title("legend", lang)
    return words

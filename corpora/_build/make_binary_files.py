#!/usr/bin/env python3
"""Build the binary demo files of the precode corpus (all content INVENTED).

Writes, next to this script's parent folder (corpora/):
  int02_supervisor.docx       Interviewer:/Participant: paragraphs, one per turn
  int03_pcmhi_provider.docx   bold "INT:"/"P03:" label run + normal text run; one
                              turn continues in a second, unlabelled paragraph
  survey_open_ended.xlsx      30 open-ended staff survey answers

Every word is fiction written for demonstration: no real participants, names,
sites or dates.  Output is deterministic: fixed content, fixed document
properties, and the zip containers are rewritten with a fixed timestamp so the
bytes are identical on every run (given the same python-docx / openpyxl).

Run:  /work/main/.venv/bin/python corpora/_build/make_binary_files.py
"""
from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from pathlib import Path

from docx import Document
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

OUT = Path(__file__).resolve().parent.parent
FIXED = dt.datetime(2024, 1, 1, 0, 0, 0)
MARK = "INVENTED DEMO TRANSCRIPT - not real participants"

# --------------------------------------------------------------------------
# int02: PSS supervisor (Shepardson-style interview guide, supervisor version)
# --------------------------------------------------------------------------
INT02_META = ("Interview 2 - PSS supervisor - Harbor Point VA Medical Center (fictional) - "
              "2017-03-22 - in person. Participant is a pseudonymous PTSD clinic team lead.")
INT02 = [
    ("Interviewer", "Thanks for meeting with us. Before we start, are you still okay with everything we went over on the consent sheet?"),
    ("Participant", "Yes, that's fine. I only have until two, though, I have a group."),
    ("Interviewer", "We'll be done well before then. So, you've supervised a peer support specialist on the PTSD team for how long now?"),
    ("Participant", "About two years. He was our first. We have a second one starting next month, actually, so this is good timing."),
    ("Interviewer", "Great. The first question is about what was hard. What were the greatest barriers or challenges to incorporating peer support services into your team?"),
    ("Participant", "Honestly, the biggest one was that nobody, me included, really knew what he was supposed to be doing the first few months. We had a position description, and it was very general. So people filled in the blanks themselves. One of the psychiatrists had him doing the PTSD checklists with every new veteran. The front desk had him calling no-shows. And he said yes to everything, because he was new and he wanted to fit in."),
    ("Interviewer", "How did that get sorted out?"),
    ("Participant", "Slowly. [laughs] He came to me after maybe three months and said, I feel like a clerk with a story. That stuck with me. So we sat down and wrote out what he would do and what he wouldn't, and I took it to the team meeting."),
    ("Interviewer", "That's helpful. Any barriers that were specific to the peer himself?"),
    ("Participant", "Um, there was a stretch, maybe eight or nine months in, where he was struggling. Anniversary stuff, some things at home. And it was hard for me to know how to handle that, because I'm his supervisor, not his therapist. I didn't want to pry, and I didn't want him to feel like his job was at risk every time he had a bad week. I ended up calling a supervisor at another VA who'd had peers for years, and she helped me think it through. I just used leave flexibly, honestly, and kept checking in."),
    ("Interviewer", "And barriers for other staff on the team?"),
    ("Participant", "Some skepticism. A couple of the clinicians were worried about boundaries, like, is he going to become friends with the veterans, is he going to tell them things about his own treatment that are, you know, not appropriate. And one person was pretty open that she didn't think someone without a degree should be in case conferences at all."),
    ("Participant", "I don't think she'd say that now. But it took a while."),
    ("Interviewer", "Was there anything at the facility or national level that got in the way?"),
    ("Participant", "The hiring took forever. And the performance standards we were given came from outside and, frankly, read like they were written for a different kind of clinic. I had to kind of translate them. There's also a huge amount of guidance material out there, which sounds like a good thing, but when you're new to supervising a peer you don't have time to read three hundred pages. I wanted, like, a checklist for the first ninety days."),
    ("Interviewer", "Okay. So moving to what helped. What supports, tools, or resources helped facilitate integration of peer support into your team?"),
    ("Participant", "Having a private space for him, which I fought for. That mattered. The veterans need to be able to close a door. And getting his computer access and his note templates set up before day one. We did not do that for him, and I'll do it for the new one."),
    ("Participant", "The other thing that really helped was pairing him with one clinician to co-lead a group. The anger management group. So the team could see him in action, and the veterans loved him. It was the co-leader who became his biggest advocate in meetings."),
    ("Interviewer", "What were the most effective strategies for helping the team accept the peer?"),
    ("Participant", "Him telling his story at a staff meeting. Short version, ten minutes. Why he's here. Um, and then me making sure he had a real voice in case review. I'd ask him directly, in front of everybody, what's your read on this veteran. After a while people started doing it without me."),
    ("Interviewer", "Can you say more about that?"),
    ("Participant", "Well, it's a signal, right? If the team lead treats his opinion like it counts, other people follow. If I'd let him sit in the corner, he'd have stayed in the corner."),
    ("Interviewer", "Anything you wish you'd done differently, or ideas for how to help the peer be accepted?"),
    ("Participant", "I wish we'd involved the team in designing his role before he got here. Ask them, what's the thing that frustrates you most with our veterans, where do people fall through the cracks? Then the peer shows up as the answer to their problem instead of a new thing they have to figure out."),
    ("Participant", "And training for me. I'm a psychologist, I spent years learning not to self-disclose. I had to unlearn some of my own reactions when he'd share things in group that I would never share."),
    ("Interviewer", "Okay. Now the long term. What supports, tools, or resources are helping to maintain peer support services on your team?"),
    ("Participant", "The peer network. He's on a monthly call with other peers in the region and I can tell that keeps him going. And we send him to a conference once a year, which I had to justify with a memo, but it got approved."),
    ("Participant", "Also I keep a simple tally. How many veterans he sees, how many came back for a second appointment after meeting him. That's been surprisingly persuasive when budget season comes around."),
    ("Interviewer", "Anything else for maintenance?"),
    ("Participant", "Just, keep talking about the role. Staff turn over. Every new psychiatrist needs the same explanation. It's not a one-time thing."),
    ("Interviewer", "Last question. What type of leadership support would facilitate integration of peer support services into a new team, such as primary care?"),
    ("Participant", "The primary care leadership has to actually want it, not just accept it because it came down from above. If the chief of primary care is lukewarm, the PCPs will be lukewarm. So I'd start by getting one or two respected doctors excited and letting them talk it up."),
    ("Participant", "And whoever supervises has to be given the time. Right now supervising him is on top of my full clinical load. Co-signing notes, weekly supervision, the occasional crisis, it adds up. It's easy for leadership to say yes to a peer position. It's harder to get them to say yes to the hours it takes to supervise one well."),
    ("Interviewer", "That's really clear. Is there anything else you'd like to add?"),
    ("Participant", "Just that it's been one of the best things to happen to our team. I say that after listing all the problems. [laughs] But it's true."),
    ("Interviewer", "Thank you so much for your time."),
]

# --------------------------------------------------------------------------
# int03: PC-MHI provider; label in bold run, text in normal run.
# A tuple with label None is an unlabelled continuation paragraph.
# --------------------------------------------------------------------------
INT03_META = ("Interview 3 - PC-MHI provider (psychologist) - Maple Hollow VA Medical Center "
              "(fictional) - 2017-04-05 - by telephone. Speaker P03 is a pseudonymous participant ID.")
INT03 = [
    ("INT", "Okay, I think we're all set. Thanks again for making time, I know clinic days are packed."),
    ("P03", "No problem, I blocked this off. It's actually the quietest my schedule has been all week."),
    ("INT", "[laughs] Good. So just to start, you've had a little exposure to the new peer pilot here?"),
    ("P03", "A little. He's been with us Tuesdays for, I want to say, six weeks? I've handed off maybe three veterans to him. So I'm still learning what he does, honestly."),
    ("INT", "That's fine, that's actually what we're interested in. So, what would be the greatest barriers to incorporating peer support services into PC-MHI?"),
    ("P03", "I think the workflow is the first thing. Our whole model is built on the warm handoff. The PCP knocks on my door, I walk down the hall, I see the veteran for thirty minutes, done. A peer doesn't fit neatly into that. Does the PCP hand off to me and then I hand off to him? Does the PCP go straight to him? Right now it's kind of whoever remembers."),
    ("P03", "And then, the overlap. A lot of what I do in brief visits is behavioral activation, sleep hygiene, goal setting. A peer is also doing goal setting, but from a different angle. I can see PCPs being confused about which of us to call, and I can see veterans getting bounced between us."),
    ("INT", "Any barriers specifically for PC-MHI providers?"),
    ("P03", "Um, maybe some territorialness? I don't feel it personally. But I've heard colleagues wonder if this is a cheaper way to do what we do. It isn't, they're different roles, but with staffing the way it is, people get nervous."),
    ("INT", "And barriers for primary care providers and the rest of the PACT team?"),
    ("P03", "Time, and not knowing what peer support is. The nurses especially would be great referrers, but nobody's told them about it. I also think some of the primary care staff have, um, outdated ideas about people with mental health histories. Not malicious, just uninformed. I heard someone ask whether it was safe to give him a patient with a gun at home."),
    ("INT", "Wow. Okay."),
    ("P03", "Yeah. I said something, but. Yeah."),
    ("INT", "Moving on to what would help at the start. What supports, tools, or resources would be needed to ensure successful integration of peer support services into PC-MHI and primary care?"),
    ("P03", "Clear referral criteria. Concrete ones. Like, veterans who screen positive but say no to mental health. Veterans who keep missing appointments. Veterans with a new chronic diagnosis who are overwhelmed. That gives the PCPs a mental picture."),
    ("P03", "And somewhere for him to be. Right now he floats. Some days he doesn't have a room and he meets veterans in the chapel. I'm not kidding."),
    (None, "Actually, let me add to that. It's not just a room, it's being physically in the clinic hallway. When I started in PC-MHI years ago, my referrals tripled the month they moved my office from the second floor to right next to the nurses' station. Visibility is everything in primary care. If they can see you, they'll use you."),
    ("INT", "That's a great point. Any supports needed specifically for the peer?"),
    ("P03", "Supervision from someone who knows primary care. He's supervised by the mental health side, and his supervisor is lovely, but she's never worked in a primary care clinic. I could see someone from our team doing some of that. We understand the pace."),
    ("P03", "And some basic medical literacy. Diabetes, hypertension, chronic pain, the big three for us."),
    ("INT", "And supports for PC-MHI providers?"),
    ("P03", "Honestly, just a conversation. Sit down with us and figure out how we divide things. Where his role starts and where mine does. Maybe even some joint visits at first, so I can see what he does and he can see what I do."),
    ("INT", "Great. Now thinking long-term. What supports, tools, or resources would be needed to maintain successful peer support services in PC-MHI and primary care in the long run?"),
    ("P03", "Feedback to the referring provider is huge. When I hand someone off to him and then hear nothing, I'm less likely to do it again. Even a one-line note in the chart. We learned that ourselves in PC-MHI, you have to report back or the PCPs forget you exist."),
    ("P03", "And data. I know that's not very exciting. But someone needs to track engagement, return visits, maybe symptom scores if it makes sense. Leadership here responds to numbers."),
    ("INT", "Anything else?"),
    ("P03", "Him being full time, eventually. One day a week is hard to build on. By the time people remember he's here, it's Wednesday."),
    ("INT", "[laughs] Okay. Last question. What type of leadership support would facilitate integration of peer support services into PC-MHI and primary care?"),
    ("P03", "Primary care leadership endorsing it explicitly. Not just mental health leadership. The PCPs take their cues from their own chief. An email from her saying, this is a real service, here's how to use it, would go a long way."),
    ("P03", "And patience. This is a new thing. It's going to take a year for it to find its shape. If leadership expects results in three months they'll pull the plug too early."),
    ("INT", "Thank you. Anything else you want to add?"),
    ("P03", "No, I think that's it. I'm rooting for it. I really am."),
    ("INT", "Thanks so much."),
]

# --------------------------------------------------------------------------
# survey: 30 open-ended answers from staff
# --------------------------------------------------------------------------
Q_BARRIER = "What is the biggest barrier to working with peer support specialists in your clinic?"
Q_HELP = "What has helped (or would help) peer support specialists become part of your team?"
Q_KEEP = "What would keep a peer support program going over the long term?"
Q_LEAD = "What should leadership do to support peer support in primary care?"
SITES = ["Maple Hollow VAMC (fictional)", "Harbor Point VAMC (fictional)",
         "Pinecrest VAMC (fictional)", "Cedar Flats CBOC (fictional)"]
PSS, SUP, PCMHI, PCP = "PSS", "PSS supervisor", "PC-MHI provider", "primary care provider"
SURVEY = [
    (PCP, 0, Q_BARRIER, "Not knowing what they actually do. I've had two different explanations from two different people."),
    (PCP, 1, Q_BARRIER, "Time. My visits are 20 minutes and I barely get through the medical issues."),
    (PSS, 3, Q_BARRIER, "No private room on clinic days. I end up meeting veterans in the hallway or the break room, which nobody likes."),
    (PCMHI, 0, Q_BARRIER, "Unclear division of labor between PC-MHI and the peer. PCPs don't know which of us to call, so sometimes they call neither."),
    (SUP, 2, Q_BARRIER, "Supervision time isn't built into my workload. I supervise on my lunch."),
    (PSS, 0, Q_BARRIER, "Staff still think of me as a volunteer or a driver. I've been asked to transport patients more than I've been asked to do peer work."),
    (PCP, 3, Q_BARRIER, "honestly idk if my patients would go for it. a lot of them don't like the idea of talking about feelings with anyone"),
    (PCMHI, 1, Q_BARRIER, "Some staff have stigmatizing views about people with mental health histories working with patients. It comes out in small comments."),
    (PSS, 0, Q_HELP, "Being invited to the morning huddle. Once I was at the table every day the nurses started asking me to see people."),
    (PCP, 0, Q_HELP, "I'd need to see it in action. If I watched a peer connect with one of my difficult patients I'd refer more."),
    (SUP, 1, Q_HELP, "Having the peer present his story at a staff meeting, and pairing him with a clinician to co-facilitate a group early on."),
    (PCMHI, 2, Q_HELP, "A one-page referral guide with examples of who to send. And an instant message option so PCPs can reach the peer during clinic."),
    (PSS, 2, Q_HELP, "A supervisor who has actually done peer work, or at least understands it. Mine is supportive but sometimes treats disclosure like a problem to be managed."),
    (PCP, 2, Q_HELP, "Flyers in the waiting room so patients ask about it themselves. That takes the pressure off me to explain it."),
    (PSS, 3, Q_HELP, "Video equipment for telehealth. Most of my veterans live an hour or more away."),
    (SUP, 0, Q_HELP, "Putting the peer's duties and limits in writing before he started. We did this late, and doing it up front would have saved a lot of friction."),
    (PCMHI, 3, Q_HELP, "Training for the peer on common medical conditions so he can follow the conversation when patients talk about their health."),
    (PSS, 1, Q_KEEP, "Time with other peers. The regional call keeps me sane. Without it I'd have burned out in my first year."),
    (PCP, 1, Q_KEEP, "Show me outcomes. Fewer ER visits or better appointment attendance would convince most of my colleagues."),
    (SUP, 3, Q_KEEP, "More than one peer per site so there's backup when someone is on leave. Right now if he's out, nobody covers his veterans."),
    (PCMHI, 0, Q_KEEP, "A feedback loop: a short note back to the referring provider after the first contact. Referrals dry up without it."),
    (PSS, 2, Q_KEEP, "Ongoing training, not just the initial certification. Things change and the veterans coming in now are different than ten years ago."),
    (PCP, 3, Q_KEEP, "Protect the peer's schedule so they don't get flooded with every patient nobody knows what to do with."),
    (SUP, 1, Q_KEEP, "A lead peer position. It gives peers a career path and takes some of the day-to-day load off clinical supervisors."),
    (PSS, 0, Q_LEAD, "Say it out loud. An email from the chief of primary care saying peers are part of the team would do more than anything I can say myself."),
    (PCP, 0, Q_LEAD, "Give us protected time to learn about the program at a staff meeting, not another online module to do at night."),
    (SUP, 2, Q_LEAD, "Let each clinic shape the role to fit its population. What works on a PTSD team won't automatically work in primary care."),
    (PCMHI, 1, Q_LEAD, "Fund a full-time position. One day a week is too little for staff to remember the peer is there."),
    (PSS, 1, Q_LEAD, "Come visit. Leadership has never been to our clinic. Seeing the work in person would change how they talk about it."),
    (PCP, 2, Q_LEAD, "Be patient. It will take more than a few months to know if this works, so don't pull funding too early."),
]
assert len(SURVEY) == 30


def normalize_zip(path: Path) -> None:
    """Rewrite a zip container with fixed timestamps/attributes (byte-reproducible).

    openpyxl stamps dcterms:modified with the current time on save whatever we
    set, so docProps/core.xml is patched back to the fixed date here.
    """
    with zipfile.ZipFile(path) as zin:
        items = [(info, zin.read(info.filename)) for info in zin.infolist()]
    stamp = FIXED.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    items = [(info, re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                           rb"\g<1>" + stamp + rb"\g<2>", data)
              if info.filename == "docProps/core.xml" else data)
             for info, data in items]
    tmp = path.with_suffix(path.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zout:
        for info, data in items:
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zi.create_system = 3
            zout.writestr(zi, data)
    os.replace(tmp, path)


def _new_doc(title: str) -> Document:
    doc = Document()
    cp = doc.core_properties
    cp.title = MARK
    cp.subject = title
    cp.author = "precode demo corpus (invented)"
    cp.last_modified_by = "precode demo corpus (invented)"
    cp.comments = "Every word in this document is invented for demonstration. No real participants."
    cp.keywords = "invented; demo; precode"
    cp.created = FIXED
    cp.modified = FIXED
    cp.last_printed = FIXED
    cp.revision = 1
    doc.styles["Normal"].font.size = Pt(11)
    doc.add_paragraph(MARK, style="Title")
    return doc


def build_int02(path: Path) -> None:
    doc = _new_doc("Interview 2 - PSS supervisor")
    doc.add_paragraph(INT02_META)
    for label, text in INT02:
        doc.add_paragraph(f"{label}: {text}")
    doc.save(path)
    normalize_zip(path)


def build_int03(path: Path) -> None:
    doc = _new_doc("Interview 3 - PC-MHI provider")
    doc.add_paragraph(INT03_META)
    for label, text in INT03:
        p = doc.add_paragraph()
        if label is not None:
            p.add_run(f"{label}:").bold = True
            p.add_run(f" {text}")
        else:
            p.add_run(text)
    doc.save(path)
    normalize_zip(path)


def build_survey(path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "responses"
    ws.append(["id", "role", "site", "question", "text", "source"])
    for i, (role, site, q, text) in enumerate(SURVEY, 1):
        ws.append([f"R{i:03d}", role, SITES[site], q, text, "invented"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col, width in zip("ABCDEF", (7, 22, 30, 60, 90, 10)):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=2, min_col=4, max_col=5):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    props = wb.properties
    props.title = MARK
    props.subject = "Open-ended staff survey answers (invented)"
    props.creator = "precode demo corpus (invented)"
    props.lastModifiedBy = "precode demo corpus (invented)"
    props.description = "Every answer is invented for demonstration. No real respondents."
    props.created = FIXED
    props.modified = FIXED
    wb.save(path)
    normalize_zip(path)


def main() -> None:
    build_int02(OUT / "int02_supervisor.docx")
    build_int03(OUT / "int03_pcmhi_provider.docx")
    build_survey(OUT / "survey_open_ended.xlsx")
    for name in ("int02_supervisor.docx", "int03_pcmhi_provider.docx", "survey_open_ended.xlsx"):
        print("wrote", OUT / name)


if __name__ == "__main__":
    main()

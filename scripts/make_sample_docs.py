#!/usr/bin/env python
"""Generate the binary sample documents (PDF and DOCX) in docs_corpus/.

The text documents (Markdown, plain text, HTML, CSV) in docs_corpus/ are
written by hand and committed as they are. The PDFs and DOCX files are built
by this script from the content defined below, so they can be reviewed as
text and regenerated at will.

The output is deterministic: fixed creation dates, fixed metadata and fixed
ZIP timestamps, so re-running the script produces byte-identical files.

Usage:
    .venv/bin/python scripts/make_sample_docs.py [--out docs_corpus] [--check]

--check regenerates into a temporary directory and fails if any file differs
from the committed copy.

Requires fpdf2 and python-docx. PDF text uses the core Helvetica font, so all
PDF content must be Latin-1.
"""

from __future__ import annotations

import argparse
import filecmp
import io
import sys
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from docx.shared import Pt
from fpdf import FPDF

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "docs_corpus"

AUTHOR = "Quillon Systems Ltd"

# --------------------------------------------------------------------------
# Content model
#
# A document is a dict with "title", "subtitle", metadata and a list of
# sections. For PDFs, each section is rendered on its own page (so the page
# number identifies the topic). A section is a heading plus a list of blocks:
#   ("p", text)                 paragraph
#   ("h", text)                 sub-heading
#   ("bullets", [text, ...])    bulleted list
#   ("table", [[header...], [row...], ...])
# --------------------------------------------------------------------------

# ============================== PDF CONTENT ===============================

TRAVEL_POLICY = {
    "path": "travel/travel_and_expenses_policy.pdf",
    "title": "Travel and Expenses Policy",
    "subtitle": "Policy FIN-POL-007, version 5.1. Effective 1 January 2026. Owner: Finance.",
    "label": "QUILLON INTERNAL",
    "created": datetime(2025, 12, 15, 10, 0, 0, tzinfo=UTC),
    "subject": "Business travel booking, per diems, expense claims and corporate cards",
    "sections": [
        (
            "1. Purpose, scope and trip approval",
            [
                (
                    "p",
                    "This policy explains how to plan, book and pay for business travel at "
                    "Quillon Systems Ltd, and how to claim back money you have spent on the "
                    "company's behalf. It applies to all employees and contractors in the Leeds, "
                    "Lisbon and Toronto offices, and to candidates and guests whose travel "
                    "Quillon has agreed to pay for.",
                ),
                (
                    "p",
                    "We expect everyone to spend the company's money as carefully as they would "
                    "their own. Travel should have a clear business purpose that cannot "
                    "reasonably be achieved by a video call. Where it can, choose the option with "
                    "the lower carbon footprint: for example, rail rather than a flight for "
                    "journeys within Great Britain that take less than 5 hours by train.",
                ),
                ("h", "Getting approval before you travel"),
                (
                    "bullets",
                    [
                        "Every trip needs approval from your budget holder before anything is "
                        "booked.",
                        "International trips (outside the country of your home office) also need "
                        "approval from your director.",
                        "Trips longer than 10 working days, or with a total estimated cost above "
                        "GBP 5,000, need approval from the relevant member of the Executive "
                        "Leadership Team.",
                        "Approval is requested in Navan when you book; Navan routes it "
                        "automatically.",
                    ],
                ),
                ("h", "Travel safety"),
                (
                    "p",
                    "Before travelling to a destination outside the UK, EU, Canada or the USA, "
                    "check the travel advice on The Quill and tell the Travel Desk. Travellers "
                    "must keep their itinerary in Navan up to date so that we can contact them in "
                    "an emergency. The 24-hour travel emergency line is printed on the back of "
                    "your building badge and on your Navan itinerary.",
                ),
            ],
        ),
        (
            "2. Booking through the Navan travel portal",
            [
                (
                    "p",
                    "All flights, rail tickets, hotels and hire cars must be booked through "
                    "Navan, our travel management portal. Open Navan from the Quillon SSO "
                    "dashboard or the Navan mobile app; your account is created the first time "
                    "you request travel. Navan shows options that are within policy first and "
                    "flags anything outside policy for your approver.",
                ),
                ("h", "Why we book centrally"),
                (
                    "bullets",
                    [
                        "We get negotiated corporate rates with airlines and hotel groups.",
                        "We know where our people are if there is an emergency.",
                        "Invoices go straight to Finance, so you do not pay out of your own "
                        "pocket.",
                    ],
                ),
                ("h", "Booking rules"),
                (
                    "bullets",
                    [
                        "Book flights at least 14 days before departure wherever possible. "
                        "Bookings made less than 7 days before departure need a reason in Navan.",
                        "Choose the lowest logical fare: the cheapest fare that fits reasonable "
                        "travel times, allowing up to 2 hours either side of your preferred time.",
                        "Choose flexible or refundable fares only when plans are genuinely likely "
                        "to change.",
                        "Personal travel may not be combined with a business booking unless you "
                        "pay the difference yourself at the time of booking.",
                        "Frequent flyer and hotel loyalty points may be kept, but must not "
                        "influence your choice of airline or hotel.",
                    ],
                ),
                ("h", "Bookings made outside Navan"),
                (
                    "p",
                    "Travel booked outside Navan is not reimbursed unless Navan had no "
                    "availability, or the Travel Desk agreed in advance. Contact the Travel Desk "
                    "at travel@quillon.example or through the chat in the Navan app. Navan's own "
                    "support team is available 24 hours a day for changes and cancellations while "
                    "you are travelling.",
                ),
            ],
        ),
        (
            "3. Flights, rail and ground transport",
            [
                ("h", "Flights"),
                (
                    "table",
                    [
                        ["Scheduled flight time (per leg)", "Cabin class allowed"],
                        ["Under 6 hours", "Economy"],
                        ["6 hours or more", "Premium economy"],
                        [
                            "Any length",
                            "Business class only with prior approval from the Chief Operating "
                            "Officer",
                        ],
                    ],
                ),
                (
                    "p",
                    "Flight time is the scheduled time of a single flight, not the total journey "
                    "time including connections. Seat selection and one checked bag are allowed "
                    "on any flight. Lounge access is not reimbursed.",
                ),
                ("h", "Rail"),
                (
                    "p",
                    "Travel in standard class. First class is allowed only when an advance "
                    "first-class ticket costs no more than the flexible standard-class fare for "
                    "the same journey. For journeys between Leeds and London, book a specific "
                    "train in advance: open returns are rarely cheaper.",
                ),
                ("h", "Taxis and ride-hailing"),
                (
                    "p",
                    "Use public transport where it is practical. Taxis are allowed when "
                    "travelling with heavy equipment, when there is no reasonable public "
                    "transport, or between 21:00 and 06:00.",
                ),
                ("h", "Using your own car"),
                (
                    "table",
                    [
                        ["Office", "Mileage rate"],
                        [
                            "Leeds (UK)",
                            "45p per mile for the first 10,000 business miles in the tax year, "
                            "then 25p",
                        ],
                        ["Lisbon", "EUR 0.40 per km"],
                        ["Toronto", "CAD 0.72 per km"],
                    ],
                ),
                (
                    "p",
                    "Mileage is claimed for business journeys only, minus your normal commute. "
                    "Parking fees and tolls can be claimed with receipts; fines and penalty "
                    "charges cannot. Hire cars must be compact or intermediate class, booked "
                    "through Navan.",
                ),
            ],
        ),
        (
            "4. Accommodation and per diems",
            [
                ("h", "Hotels"),
                (
                    "p",
                    "Book hotels through Navan within the nightly lodging cap for the city you "
                    "are visiting. The caps and daily meals allowances for each city are "
                    "published in the per diem rates table on The Quill (travel/per_diem_rates). "
                    "The cap is per room per night, including taxes but excluding breakfast. If "
                    "no hotel within the cap is available within 30 minutes of your meeting, "
                    "Navan will ask your approver to agree the higher rate.",
                ),
                (
                    "p",
                    "If you stay with friends or family instead of a hotel, you may claim a flat "
                    "GBP 30 per night (EUR 35 in Lisbon, CAD 50 in Toronto) with no receipt.",
                ),
                ("h", "Meals allowance (per diem)"),
                (
                    "bullets",
                    [
                        "The meals allowance is the maximum you can claim per day for meals and "
                        "non-alcoholic drinks while travelling overnight. Claim what you actually "
                        "spent, with receipts, up to the allowance.",
                        "On day trips lasting more than 10 hours you may claim up to half of the "
                        "daily meals allowance.",
                        "If a meal is already provided (for example, at a conference or included "
                        "in the hotel rate), do not claim for it.",
                        "Alcohol is not reimbursed, except as part of client entertainment "
                        "approved in advance.",
                        "If no rate is listed for a city, use the default rate for 'Other "
                        "locations'.",
                    ],
                ),
                ("h", "What you cannot claim"),
                (
                    "bullets",
                    [
                        "Personal items such as toiletries, clothing, books or in-room films.",
                        "Minibar purchases, laundry for trips shorter than 5 nights, and spa or "
                        "gym charges.",
                        "Upgrades you chose for your own comfort.",
                        "Costs for a partner or family member travelling with you.",
                    ],
                ),
            ],
        ),
        (
            "5. Expense claims and the corporate card",
            [
                ("h", "Submitting an expense claim"),
                (
                    "p",
                    "Claim expenses in Ledgerly, on the web or with the mobile app. Photograph "
                    "each receipt as you go: Ledgerly reads the amount, date and VAT "
                    "automatically.",
                ),
                (
                    "bullets",
                    [
                        "Submit claims within 30 days of the date you spent the money or, for "
                        "trips, within 30 days of returning.",
                        "Claims submitted more than 90 days after the expense are rejected unless "
                        "the Finance Director agrees there were exceptional circumstances.",
                        "An itemised receipt is required for every item over GBP 10 (EUR 12, CAD "
                        "18). For UK claims, ask for a VAT receipt.",
                        "Your claim is approved by your line manager, within the limits in the "
                        "Expense Approval Limits document. You may never approve your own claim.",
                        "Claims fully approved by the 15th of the month are reimbursed with that "
                        "month's salary; later claims are paid the following month.",
                    ],
                ),
                ("h", "Corporate card"),
                (
                    "p",
                    "A Quillon corporate card is issued to employees who travel on business more "
                    "than 4 times a year or who regularly buy things for their team. Ask your "
                    "manager to request one through the Finance section of the Service Desk "
                    "portal. Your monthly limit depends on your level.",
                ),
                (
                    "bullets",
                    [
                        "Use the card for business expenses only. If you use it for a personal "
                        "purchase by mistake, tell Finance and repay the amount within 7 days.",
                        "Match every card transaction with a receipt in Ledgerly within 10 days "
                        "of the monthly statement. Cards with unreconciled transactions older "
                        "than 60 days are suspended.",
                        "Do not use the card to withdraw cash, except in countries where cards "
                        "are not widely accepted and with your approver's agreement.",
                        "If the card is lost or stolen, call the card issuer on the number in the "
                        "Ledgerly app immediately and tell Finance at cards@quillon.example "
                        "within 24 hours.",
                    ],
                ),
                (
                    "p",
                    "Misuse of the corporate card or false expense claims are treated as gross "
                    "misconduct. Questions about this policy: expenses@quillon.example.",
                ),
            ],
        ),
    ],
}

INFOSEC_POLICY = {
    "path": "security/information_security_policy.pdf",
    "title": "Information Security Policy",
    "subtitle": "Policy QSEC-POL-001, version 4.0. Approved by the Information Security "
    "Committee, 9 January 2026.",
    "label": "QUILLON INTERNAL",
    "created": datetime(2026, 1, 9, 14, 0, 0, tzinfo=UTC),
    "subject": "Information security policy: access control, acceptable use, clean desk, remote "
    "working",
    "sections": [
        (
            "1. Purpose, scope and responsibilities",
            [
                (
                    "p",
                    "Quillon's customers trust us with the data that runs their businesses. This "
                    "policy sets out the rules that everyone at Quillon must follow to protect "
                    "that data and our own information. It applies to all employees, contractors, "
                    "temporary staff and third parties who use Quillon systems or information, "
                    "wherever they work and whatever device they use.",
                ),
                (
                    "p",
                    "Quillon Systems Ltd has been certified to ISO/IEC 27001 since 2019. This "
                    "policy is the top level of our information security management system; "
                    "detailed standards (such as the Password Policy and the Data Classification "
                    "Scheme) sit beneath it.",
                ),
                ("h", "Responsibilities"),
                (
                    "table",
                    [
                        ["Role", "Responsibility"],
                        [
                            "Chief Information Security Officer (Helena Brandt)",
                            "Owns this policy, approves exceptions, reports to the board twice a "
                            "year",
                        ],
                        [
                            "Information Security Committee",
                            "Meets quarterly; reviews risks, incidents and this policy",
                        ],
                        [
                            "Information owners",
                            "Classify information and approve who may access it",
                        ],
                        [
                            "Managers",
                            "Make sure their teams complete training and follow this policy",
                        ],
                        [
                            "Everyone",
                            "Follow this policy, complete training, report incidents immediately",
                        ],
                    ],
                ),
                ("h", "Training"),
                (
                    "p",
                    "Everyone must complete Security Awareness training within their first 5 "
                    "working days and then every year by 31 March. Engineers also complete secure "
                    "development training each year. Completion is tracked in PeopleHub and "
                    "reported to department heads.",
                ),
            ],
        ),
        (
            "2. Access control and authentication",
            [
                (
                    "p",
                    "Access to systems and information is granted on the principle of least "
                    "privilege: you get the access you need for your role, and no more.",
                ),
                (
                    "bullets",
                    [
                        "Access is requested through the IT Service Desk portal and approved by "
                        "your manager and, for systems holding confidential data, the system "
                        "owner.",
                        "Multi-factor authentication (MFA) is mandatory for every account, "
                        "including email, Slack and all cloud services. SMS is not an accepted "
                        "factor.",
                        "Passwords must meet the Password Policy (at least 14 characters; changed "
                        "only when compromise is suspected).",
                        "Access to systems holding confidential data is reviewed every quarter by "
                        "the system owner. Access that is no longer needed is removed within 5 "
                        "working days of the review.",
                        "When someone changes role, access they no longer need is removed within "
                        "5 working days.",
                        "Leavers' access is removed by the end of their last working day; for "
                        "involuntary leavers, within 1 hour of the leaver being informed.",
                    ],
                ),
                ("h", "Privileged access"),
                (
                    "p",
                    "Administrators use a separate administrator account, never their everyday "
                    "account, for privileged tasks. Access to production systems is granted just "
                    "in time, for a maximum of 8 hours, through the privileged access management "
                    "tool, and sessions are recorded. Administrator accounts must use a FIDO2 "
                    "security key as their MFA factor.",
                ),
                ("h", "Shared accounts"),
                (
                    "p",
                    "Shared accounts are not allowed except where a system cannot support named "
                    "users. Any shared account must have a named owner and its credentials must "
                    "be kept in a 1Password shared vault.",
                ),
            ],
        ),
        (
            "3. Acceptable use",
            [
                (
                    "p",
                    "Quillon devices, accounts and networks are provided for business use. "
                    "Occasional, reasonable personal use (for example, checking personal email at "
                    "lunchtime) is allowed if it does not interfere with your work, break the law "
                    "or put Quillon at risk.",
                ),
                ("h", "You must not"),
                (
                    "bullets",
                    [
                        "install software that is not in the software catalogue or approved "
                        "through a software request;",
                        "store or send Quillon information using personal email, personal cloud "
                        "storage or personal messaging apps;",
                        "set up automatic forwarding of Quillon email to an external address;",
                        "disable, bypass or uninstall security tools such as endpoint protection, "
                        "disk encryption or device management;",
                        "connect unapproved devices, such as personal laptops or USB storage, to "
                        "Quillon systems (USB storage is blocked on Quillon laptops);",
                        "use Quillon systems to access, store or share illegal, offensive or "
                        "sexually explicit material, or for cryptocurrency mining;",
                        "share your account, password, MFA device or badge with anyone.",
                    ],
                ),
                ("h", "Artificial intelligence tools"),
                (
                    "p",
                    "Only AI tools approved by Information Security may be used with Quillon "
                    "information. The approved general-purpose assistant is the Quillon ChatGPT "
                    "Enterprise workspace. Confidential information, including customer data and "
                    "personal data about colleagues, must never be entered into any AI tool "
                    "unless the tool has been specifically approved for that data.",
                ),
                ("h", "Monitoring"),
                (
                    "p",
                    "To protect our systems, Quillon monitors the use of its devices, networks "
                    "and cloud services, in line with the law in each country and our employee "
                    "privacy notice. Security logs are kept for 12 months. Monitoring is not used "
                    "to track productivity.",
                ),
            ],
        ),
        (
            "4. Clean desk and clear screen",
            [
                (
                    "p",
                    "Our offices use shared desks and welcome visitors every day, so information "
                    "left on desks or screens can easily be seen by the wrong person.",
                ),
                ("h", "Clear screen"),
                (
                    "bullets",
                    [
                        "Lock your screen every time you leave your laptop, even for a moment: "
                        "Windows key + L on Windows, Control + Command + Q on a Mac.",
                        "Laptops lock automatically after 5 minutes without activity. Do not "
                        "change this setting.",
                        "In public places (trains, cafes, airports) use the privacy screen filter "
                        "supplied with your laptop, and do not work on confidential information "
                        "where others can see or hear.",
                        "Close or minimise confidential documents before sharing your screen on a "
                        "call.",
                    ],
                ),
                ("h", "Clean desk"),
                (
                    "bullets",
                    [
                        "At the end of each day, clear your desk completely. Papers, notebooks "
                        "and devices go in your locker.",
                        "Confidential papers must never be left unattended. Lock them away "
                        "whenever you leave your desk for more than a few minutes.",
                        "Collect printing immediately. Follow-me printing holds your print jobs "
                        "until you release them with your badge.",
                        "Dispose of any paper containing Internal or Confidential information in "
                        "the locked confidential waste bins. Their contents are shredded on site "
                        "every week by our contractor.",
                        "Wipe whiteboards after meetings and do not leave flip-chart sheets in "
                        "meeting rooms.",
                    ],
                ),
                ("h", "Checks"),
                (
                    "p",
                    "Security champions carry out an unannounced clean desk check in every office "
                    "once a month and leave a friendly note on any desk that fails. Results are "
                    "shared with office managers. Confidential material found unattended is taken "
                    "to the Workplace Manager and recorded as a security incident.",
                ),
            ],
        ),
        (
            "5. Remote working, exceptions and compliance",
            [
                ("h", "Working away from the office"),
                (
                    "bullets",
                    [
                        "Work only on Quillon-managed devices. Personal devices may be used only "
                        "for email, Slack and Okta Verify through the protected work profile.",
                        "Connect to internal systems through the QuillonConnect VPN. Cloud "
                        "services are protected by single sign-on and MFA and do not need the "
                        "VPN.",
                        "Do not print confidential documents at home.",
                        "Keep devices with you when travelling, and never leave them visible in a "
                        "car.",
                        "Report a lost or stolen device to the IT Service Desk (ext. 4357) within "
                        "1 hour.",
                    ],
                ),
                ("h", "Reporting incidents"),
                (
                    "p",
                    "Report any suspected security incident immediately to "
                    "security@quillon.example, in the #security-incidents Slack channel or by "
                    "phone to the IT Service Desk (ext. 4357, option 2). Report phishing emails "
                    "with the Report Phish button in Outlook.",
                ),
                ("h", "Exceptions"),
                (
                    "p",
                    "If you cannot comply with part of this policy, request an exception by "
                    "emailing security@quillon.example with the business reason and the risk. "
                    "Exceptions must be approved by the CISO, are recorded in the exceptions "
                    "register and are valid for a maximum of 12 months.",
                ),
                ("h", "Compliance"),
                (
                    "p",
                    "Breaches of this policy may lead to disciplinary action, up to and including "
                    "dismissal, and for contractors to termination of their contract. This policy "
                    "is reviewed at least once a year by the Information Security Committee. Next "
                    "scheduled review: January 2027.",
                ),
            ],
        ),
    ],
}

HANDBOOK = {
    "path": "hr/employee_handbook_excerpt.pdf",
    "title": "Employee Handbook (excerpt)",
    "subtitle": "Chapters 1 to 5 of the Quillon Employee Handbook, 2026 edition. Owner: People "
    "Team.",
    "label": "QUILLON INTERNAL",
    "created": datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC),
    "subject": "About Quillon, working hours and pay, time off, code of conduct, performance and "
    "learning",
    "sections": [
        (
            "Chapter 1. Welcome to Quillon",
            [
                (
                    "p",
                    "Quillon Systems Ltd was founded in Leeds in 2011 by Martin Hale and Ana "
                    "Ribeiro, who met while automating finance processes for a regional building "
                    "society. Their first product, a simple approvals tool, grew into Quillon "
                    "Flow, the workflow-automation platform now used by more than 1,800 "
                    "organisations in 30 countries.",
                ),
                (
                    "p",
                    "Today we are around 400 people in three offices: Leeds, our headquarters "
                    "since the start; Lisbon, opened in 2018 and home to much of our engineering "
                    "and customer support; and Toronto, opened in 2021 to serve customers in the "
                    "Americas. Martin Hale is our Chief Executive Officer.",
                ),
                ("h", "Our values"),
                (
                    "bullets",
                    [
                        "Be clear: say what you mean, write things down, and make decisions easy "
                        "to understand.",
                        "Be curious: ask why, learn from customers, and share what you learn.",
                        "Own it: take responsibility for outcomes, not just tasks.",
                        "Leave it better: improve the product, the process and the place for "
                        "those who come next.",
                    ],
                ),
                ("h", "About this handbook"),
                (
                    "p",
                    "This handbook summarises how we work and what you can expect from us. It "
                    "does not form part of your contract of employment. Where a topic has its own "
                    "policy (for example annual leave, sickness absence or travel and expenses), "
                    "that policy contains the full rules and takes precedence over this summary.",
                ),
            ],
        ),
        (
            "Chapter 2. Working hours and pay",
            [
                ("h", "Working hours"),
                (
                    "p",
                    "The standard full-time working week is 37.5 hours, Monday to Friday, with an "
                    "unpaid lunch break. We work flexibly: you may start at any time between "
                    "07:30 and 10:00, provided you are available during our core hours of 10:00 "
                    "to 16:00 (local time) unless you have agreed otherwise with your manager.",
                ),
                ("h", "Pay"),
                (
                    "p",
                    "Salaries are paid monthly, in arrears, on the 25th of each month. If the "
                    "25th falls on a weekend or public holiday, you are paid on the last working "
                    "day before it. Payslips are available in PeopleHub. Salaries are reviewed "
                    "once a year, with any changes taking effect on 1 April.",
                ),
                ("h", "Overtime and on-call"),
                (
                    "p",
                    "Salaried employees do not receive overtime pay, but managers should agree "
                    "time off in lieu when you work significant extra hours, for example during a "
                    "product launch. Employees on an on-call rota receive an on-call allowance of "
                    "GBP 25 for each weekday night and GBP 50 for each weekend day or public "
                    "holiday on call (local equivalents in Lisbon and Toronto), plus time off in "
                    "lieu for any call-out lasting more than 2 hours.",
                ),
                ("h", "Changes to your details"),
                (
                    "p",
                    "Keep your address, bank details and emergency contacts up to date in "
                    "PeopleHub. Changes to bank details made after the 15th of the month may not "
                    "take effect until the following month's payroll.",
                ),
            ],
        ),
        (
            "Chapter 3. Time off at a glance",
            [
                (
                    "p",
                    "This chapter gives a quick overview. The full rules are in the separate "
                    "policies on The Quill.",
                ),
                (
                    "table",
                    [
                        ["Type of leave", "Summary"],
                        [
                            "Annual leave",
                            "27 days a year plus public holidays; up to 5 days can be carried over",
                        ],
                        ["Sickness", "Tell your manager by 10:00; self-certify for up to 7 days"],
                        [
                            "Parental leave",
                            "Enhanced maternity, adoption, partner and shared parental pay",
                        ],
                        [
                            "Compassionate leave",
                            "Up to 5 days' paid leave on the death of a close family member",
                        ],
                        [
                            "Volunteering",
                            "2 paid days a year for volunteering with a registered charity",
                        ],
                        ["Moving house", "1 paid day a year"],
                        [
                            "Jury service",
                            "Full pay for up to 10 working days, then statutory arrangements",
                        ],
                        [
                            "Emergency dependant leave",
                            "Reasonable paid time off, normally up to 2 days per emergency",
                        ],
                    ],
                ),
                ("h", "Booking time off"),
                (
                    "p",
                    "All types of leave are requested or recorded in PeopleHub so that your pay "
                    "and entitlement are correct. For compassionate leave, talk to your manager "
                    "first; they will record it for you, and can agree additional paid or unpaid "
                    "time off in difficult circumstances.",
                ),
                ("h", "Volunteering days"),
                (
                    "p",
                    "Volunteering days can be taken as two single days or four half days, and are "
                    "booked in PeopleHub under 'Volunteering'. Team volunteering days organised "
                    "through the Social Committee count towards the allowance.",
                ),
            ],
        ),
        (
            "Chapter 4. Code of conduct",
            [
                (
                    "p",
                    "We expect everyone at Quillon to act with honesty and respect, and to follow "
                    "the law and our policies. The full Code of Conduct training is completed by "
                    "every new starter in their first week and every year afterwards.",
                ),
                ("h", "Respect at work"),
                (
                    "p",
                    "We do not tolerate bullying, harassment or discrimination of any kind, "
                    "whether in the office, online, at work events or when travelling. This "
                    "includes jokes or comments about someone's age, disability, gender identity, "
                    "race, religion, sex, sexual orientation or any other personal "
                    "characteristic.",
                ),
                ("h", "Gifts and hospitality"),
                (
                    "bullets",
                    [
                        "You may accept occasional gifts and hospitality worth up to GBP 50 from "
                        "customers or suppliers without approval.",
                        "Anything worth more than GBP 50 must be recorded in the Gifts and "
                        "Hospitality Register within 5 working days and approved by your "
                        "director.",
                        "Never accept cash, vouchers, or anything offered while a contract or "
                        "purchase decision is being made with that supplier.",
                    ],
                ),
                ("h", "Conflicts of interest"),
                (
                    "p",
                    "Declare any personal interest that could affect, or appear to affect, your "
                    "decisions at work, such as a relative working for a supplier or a second "
                    "job, using the declaration form in PeopleHub.",
                ),
                ("h", "Speaking up"),
                (
                    "p",
                    "If you see something that you believe is wrong, illegal or unsafe, raise it "
                    "with your manager or People Partner. If you would rather not, use the "
                    "independent SpeakUp line on 0800 496 0555 or speakup@quillon.example. "
                    "Reports can be made anonymously, and nobody will suffer any detriment for "
                    "speaking up in good faith.",
                ),
            ],
        ),
        (
            "Chapter 5. Performance, learning and development",
            [
                ("h", "Performance reviews"),
                (
                    "p",
                    "We hold performance reviews twice a year: a year-end review in January, "
                    "which includes a performance rating and feeds into the pay review, and a "
                    "mid-year review in July, which focuses on progress and development. Between "
                    "reviews, you and your manager should meet for a 1:1 at least every two "
                    "weeks. The Performance Review Guide explains the process and the rating "
                    "scale.",
                ),
                ("h", "Learning budget"),
                (
                    "p",
                    "Every employee has a personal learning budget of GBP 1,000 a year (EUR 1,150 "
                    "in Lisbon, CAD 1,800 in Toronto) and 3 paid learning days, to spend on "
                    "courses, conferences, books or certifications related to their role or "
                    "career at Quillon. Agree how you will use it with your manager and book it "
                    "through PeopleHub Learning. Unused budget does not carry over.",
                ),
                ("h", "Professional qualifications"),
                (
                    "p",
                    "Longer professional qualifications (for example accountancy or HR "
                    "qualifications) can be funded beyond the learning budget with director "
                    "approval. If you leave within 12 months of completing a funded "
                    "qualification, you may be asked to repay part of the cost.",
                ),
                ("h", "Internal moves"),
                (
                    "p",
                    "Internal vacancies are advertised on The Quill for 5 working days before "
                    "they are advertised externally. You can apply for an internal role once you "
                    "have been in your current role for 12 months; tell your manager before you "
                    "apply.",
                ),
                ("h", "Disciplinary and grievance matters"),
                (
                    "p",
                    "If you have a concern about your work or the way you are treated, talk to "
                    "your manager or People Partner first. If it is not resolved, you can raise a "
                    "formal grievance in writing to the People Team. Formal disciplinary matters "
                    "follow a fair process with an investigation, a hearing, the right to be "
                    "accompanied and the right to appeal.",
                ),
            ],
        ),
    ],
}

DATASHEET = {
    "path": "product/quillon_flow_datasheet.pdf",
    "title": "Quillon Flow Datasheet",
    "subtitle": "Workflow automation for operations, finance and people teams. Version 4.3, "
    "February 2026.",
    "label": "PUBLIC",
    "created": datetime(2026, 2, 10, 8, 0, 0, tzinfo=UTC),
    "subject": "Quillon Flow product overview, editions, security and support service levels",
    "sections": [
        (
            "Overview",
            [
                (
                    "p",
                    "Quillon Flow helps teams automate the processes that hold their business "
                    "together: approvals, onboarding, purchase requests, invoice handling, "
                    "customer hand-offs and hundreds more. Teams build workflows visually, "
                    "connect them to the applications they already use, and let Quillon Flow run "
                    "them reliably, with a full audit trail.",
                ),
                ("h", "Key capabilities"),
                (
                    "bullets",
                    [
                        "Visual workflow builder with more than 80 ready-made templates.",
                        "More than 250 pre-built connectors, plus an HTTP step and a Connector "
                        "SDK for anything else.",
                        "Approvals from email, Slack, Microsoft Teams, the mobile app or the "
                        "Approval Inbox.",
                        "Parallel branches, conditions, loops, schedules and error handling.",
                        "AI steps to summarise, classify and extract information, processed in "
                        "your data region.",
                        "Version history, side-by-side comparison and one-click rollback of "
                        "workflows.",
                        "REST API v2 and webhooks for developers.",
                    ],
                ),
                ("h", "Trusted by"),
                (
                    "p",
                    "More than 1,800 organisations in 30 countries, from 20-person charities to "
                    "listed companies, automate more than 40 million workflow runs a month on "
                    "Quillon Flow.",
                ),
            ],
        ),
        (
            "Editions at a glance",
            [
                (
                    "table",
                    [
                        ["", "Starter", "Team", "Enterprise"],
                        [
                            "Price (billed annually)",
                            "GBP 8 per user per month",
                            "GBP 18 per user per month",
                            "Custom",
                        ],
                        ["Users", "3 to 25", "Up to 500", "Minimum 100"],
                        ["Workflow runs per month", "5,000", "50,000", "Unlimited (fair use)"],
                        [
                            "API rate limit",
                            "120 requests/min",
                            "600 requests/min",
                            "3,000 requests/min",
                        ],
                        ["Single sign-on and SCIM", "-", "-", "Included"],
                        ["Audit log", "30 days", "90 days", "1 year, with export"],
                        ["Uptime SLA", "-", "99.9%", "99.95%"],
                        ["Support", "Email", "Email and chat", "24/7 for P1, named CSM"],
                    ],
                ),
                (
                    "p",
                    "Prices exclude VAT. Monthly billing is available for Starter and Team at a "
                    "higher price. Approvers who only approve requests (without building "
                    "workflows) do not need a paid seat.",
                ),
                (
                    "p",
                    "Every edition includes the visual builder, all connectors, the mobile app, "
                    "encryption at rest and in transit, and a choice of data region.",
                ),
            ],
        ),
        (
            "Security, compliance and data residency",
            [
                ("h", "Certifications"),
                (
                    "bullets",
                    [
                        "ISO/IEC 27001 certified information security management system.",
                        "SOC 2 Type II report, renewed every year, available under NDA from "
                        "trust.quillon.example.",
                        "Independent penetration test of the platform every year, with a summary "
                        "letter for customers.",
                    ],
                ),
                ("h", "Data protection"),
                (
                    "bullets",
                    [
                        "Encryption at rest with AES-256 and in transit with TLS 1.2 or higher.",
                        "Customer data is never used to train AI models.",
                        "Data processing agreement compliant with UK GDPR, EU GDPR and PIPEDA.",
                        "Backups taken every hour and retained for 35 days, stored in the same "
                        "region.",
                        "Recovery point objective (RPO) of 1 hour and recovery time objective "
                        "(RTO) of 4 hours.",
                    ],
                ),
                ("h", "Data residency"),
                (
                    "table",
                    [
                        ["Region", "Hosting location", "Available since"],
                        ["EU", "Frankfurt, Germany", "2016"],
                        ["UK", "London, United Kingdom", "2020"],
                        ["Canada", "Montreal, Canada", "Version 4.2, November 2025"],
                    ],
                ),
                (
                    "p",
                    "You choose the region when you create a workspace; all workflow data, files, "
                    "logs and backups stay in that region. Enterprise customers can move an "
                    "existing workspace between regions with the migration service.",
                ),
            ],
        ),
        (
            "Support and service levels",
            [
                ("h", "Priority definitions"),
                (
                    "table",
                    [
                        ["Priority", "Definition"],
                        [
                            "P1 - Critical",
                            "Production workflows are down or data is at risk, with no workaround",
                        ],
                        [
                            "P2 - High",
                            "A major feature is unavailable or badly degraded; a workaround may "
                            "exist",
                        ],
                        [
                            "P3 - Normal",
                            "A minor feature is affected, or a question about configuration",
                        ],
                        [
                            "P4 - Low",
                            "General questions, feature requests and documentation issues",
                        ],
                    ],
                ),
                ("h", "First response targets"),
                (
                    "table",
                    [
                        ["Priority", "Starter", "Team", "Enterprise"],
                        ["P1", "Next business day", "4 business hours", "1 hour, 24/7"],
                        ["P2", "Next business day", "8 business hours", "4 hours, 24/7"],
                        ["P3", "2 business days", "2 business days", "1 business day"],
                        ["P4", "5 business days", "3 business days", "2 business days"],
                    ],
                ),
                (
                    "p",
                    "Business hours are 08:00 to 18:00, Monday to Friday, in the customer's data "
                    "region time zone (UK for the UK region, Central European Time for the EU "
                    "region, Eastern Time for the Canada region). Enterprise P1 incidents can be "
                    "reported by phone at any time.",
                ),
                ("h", "Service credits"),
                (
                    "p",
                    "If monthly uptime falls below the SLA for Team or Enterprise, customers "
                    "receive a service credit of 10% of the monthly fee for each full 0.1% below "
                    "the target, up to a maximum of 30% of the monthly fee. Live status: "
                    "status.quillon.example.",
                ),
            ],
        ),
    ],
}

PDF_DOCS = [TRAVEL_POLICY, INFOSEC_POLICY, HANDBOOK, DATASHEET]

# ============================== DOCX CONTENT ==============================

HYBRID_POLICY = {
    "path": "hr/remote_and_hybrid_working_policy.docx",
    "title": "Remote and Hybrid Working Policy",
    "subtitle": "Owner: People Team. Version 3.2, effective 1 February 2026.",
    "created": datetime(2026, 1, 26, 11, 0, 0, tzinfo=UTC),
    "subject": "Hybrid working patterns, anchor days, home equipment, working abroad",
    "sections": [
        (
            "Purpose",
            [
                (
                    "p",
                    "Quillon believes the best work happens with a mix of focused time at home "
                    "and collaboration in person. This policy explains the working patterns we "
                    "offer, what we expect from everyone, and the support we give for working "
                    "from home. It applies to all employees in Leeds, Lisbon and Toronto.",
                ),
            ],
        ),
        (
            "Working patterns",
            [
                (
                    "p",
                    "Every role is assigned one of three working patterns. Your pattern is shown "
                    "in PeopleHub and in your contract.",
                ),
                (
                    "table",
                    [
                        [
                            "Pattern",
                            "Typical roles",
                            "Minimum time in the office",
                            "How it is agreed",
                        ],
                        [
                            "Office-based",
                            "Reception, Workplace team, IT bar technicians",
                            "5 days a week",
                            "Set by the role",
                        ],
                        [
                            "Hybrid (default)",
                            "Most roles",
                            "2 days a week, on your team's anchor days",
                            "Default; no request needed",
                        ],
                        [
                            "Remote-first",
                            "Roles approved as remote; people living more than 50 miles (80 km) "
                            "from an office",
                            "One team week in the office per quarter",
                            "Approved by your director and People Partner",
                        ],
                    ],
                ),
                (
                    "p",
                    "Attendance is not monitored through badge data for individuals. Managers are "
                    "expected to talk to team members who regularly miss anchor days.",
                ),
            ],
        ),
        (
            "Anchor days",
            [
                (
                    "p",
                    "Each team chooses two anchor days a week when everyone in the team who works "
                    "hybrid comes to the office. Most teams in Leeds use Tuesday and Wednesday; "
                    "Lisbon teams mostly use Tuesday and Thursday. Anchor days are recorded in "
                    "DeskFinder so that desks can be reserved in the team's neighbourhood.",
                ),
                (
                    "p",
                    "Anchor days should be used for collaboration: planning, workshops, 1:1s and "
                    "social time. Please avoid spending them on solo work with headphones on.",
                ),
            ],
        ),
        (
            "Equipment and home working allowance",
            [
                (
                    "p",
                    "IT provides your laptop, a monitor, keyboard, mouse and headset for home. In "
                    "addition, hybrid and remote-first employees receive a one-off home working "
                    "allowance for furniture such as a desk or an ergonomic chair:",
                ),
                (
                    "table",
                    [
                        ["Office", "One-off home working allowance", "Claim by"],
                        ["Leeds", "GBP 300", "Within 3 months of joining"],
                        ["Lisbon", "EUR 350", "Within 3 months of joining"],
                        ["Toronto", "CAD 450", "Within 3 months of joining"],
                    ],
                ),
                (
                    "p",
                    "Claim the allowance through Ledgerly with receipts, under the category 'Home "
                    "working'. Items bought with the allowance belong to you. The allowance is "
                    "paid once per employee, not per move.",
                ),
            ],
        ),
        (
            "Health, safety and wellbeing at home",
            [
                (
                    "p",
                    "Complete the home workstation self-assessment in PeopleHub within your first "
                    "2 weeks, and again if you move house. If the assessment shows a problem, the "
                    "Workplace Team will contact you. Take regular breaks and keep to your usual "
                    "working hours; nobody is expected to answer messages outside them.",
                ),
            ],
        ),
        (
            "Working from another country",
            [
                (
                    "p",
                    "You may work from a country other than the one you are employed in for up to "
                    "20 working days in a calendar year, for example to extend a visit to family. "
                    "Because of tax, immigration and data protection rules, you must get approval "
                    "first:",
                ),
                (
                    "bullets",
                    [
                        "Submit a 'Work from abroad' request in PeopleHub at least 4 weeks before "
                        "you travel.",
                        "Your manager and the People Team approve the request; the People Team "
                        "checks tax and immigration.",
                        "Requests are normally approved only for countries in the UK, EU, EEA, "
                        "Canada and the USA.",
                        "No single stay may last longer than 10 consecutive working days.",
                        "You must be able to work within core hours (10:00 to 16:00) of your home "
                        "office.",
                    ],
                ),
                (
                    "p",
                    "Working from abroad without approval is a serious matter because it can "
                    "create tax liabilities for you and for Quillon.",
                ),
            ],
        ),
        (
            "Costs and expenses",
            [
                (
                    "p",
                    "Travel between home and your usual office is commuting and is not "
                    "reimbursed. Remote-first employees who travel to an office for a team week "
                    "can claim travel and accommodation under the Travel and Expenses Policy. "
                    "Quillon does not pay towards home broadband or energy bills.",
                ),
            ],
        ),
        (
            "Security when working remotely",
            [
                (
                    "p",
                    "Follow the Information Security Policy wherever you work: use only your "
                    "Quillon laptop, lock your screen, use the QuillonConnect VPN for internal "
                    "systems and do not print confidential documents at home.",
                ),
                ("p", "Questions about this policy: people@quillon.example."),
            ],
        ),
    ],
}

PERFORMANCE_GUIDE = {
    "path": "hr/performance_review_guide.docx",
    "title": "Performance Review Guide 2026",
    "subtitle": "Owner: People Team. For all employees and managers.",
    "created": datetime(2025, 12, 18, 15, 30, 0, tzinfo=UTC),
    "subject": "Twice-yearly performance reviews: timeline, rating scale, calibration, pay",
    "sections": [
        (
            "How reviews work at Quillon",
            [
                (
                    "p",
                    "We review performance twice a year. The year-end review in January looks "
                    "back over the whole year and includes a rating, which feeds into the annual "
                    "pay review. The mid-year review in July is a development conversation with "
                    "no rating. Both reviews are completed in the Performance module of "
                    "PeopleHub.",
                ),
                (
                    "p",
                    "Reviews should never contain surprises. If there are concerns about your "
                    "performance, your manager should raise them in your regular 1:1s as soon as "
                    "they arise.",
                ),
            ],
        ),
        (
            "Timeline for 2026",
            [
                (
                    "table",
                    [
                        ["Stage", "Year-end review (2025 performance)", "Mid-year review"],
                        [
                            "Self-assessment",
                            "Opens 5 January, due 16 January",
                            "Opens 29 June, due 10 July",
                        ],
                        ["Peer feedback", "Due 23 January", "Optional"],
                        ["Manager assessment", "Due 30 January", "Due 17 July"],
                        ["Calibration", "2 to 13 February", "None"],
                        ["Review conversation", "By 27 February", "By 31 July"],
                        ["Pay and bonus changes", "Effective 1 April", "None"],
                    ],
                ),
                (
                    "p",
                    "Employees who joined after 1 October 2025 take part in the mid-year review "
                    "only; their probation review covers their first months.",
                ),
            ],
        ),
        (
            "Goals",
            [
                (
                    "p",
                    "Agree 3 to 5 goals with your manager at the start of each half-year and "
                    "record them in PeopleHub. Good goals describe an outcome and how you will "
                    "know you achieved it. At least one goal should be about your own "
                    "development.",
                ),
            ],
        ),
        (
            "Self-assessment and peer feedback",
            [
                (
                    "p",
                    "Your self-assessment answers four questions: what you achieved, how you "
                    "achieved it (with reference to our values), what you learned, and what "
                    "support you need next. For the year-end review you can ask up to 4 "
                    "colleagues for peer feedback. Peer feedback is shared with your manager and "
                    "is not anonymous.",
                ),
            ],
        ),
        (
            "Rating scale",
            [
                (
                    "p",
                    "At year-end your manager proposes one of four ratings, which is confirmed at "
                    "calibration:",
                ),
                (
                    "table",
                    [
                        ["Rating", "What it means", "Typical share of employees"],
                        [
                            "Exceptional",
                            "Consistently went well beyond the expectations of the role and level",
                            "Around 10%",
                        ],
                        [
                            "Strong",
                            "Fully met, and often exceeded, the expectations of the role",
                            "Around 60%",
                        ],
                        [
                            "Developing",
                            "Met some expectations; progressing but not yet consistent",
                            "Around 25%",
                        ],
                        [
                            "Not yet meeting",
                            "Did not meet the expectations of the role",
                            "Around 5%",
                        ],
                    ],
                ),
                ("p", "The shares are guidance for calibration, not quotas."),
            ],
        ),
        (
            "Calibration",
            [
                (
                    "p",
                    "Calibration meetings bring together managers in each department, facilitated "
                    "by a People Partner, to compare proposed ratings and make sure the scale is "
                    "applied fairly and consistently. Managers must not share proposed ratings "
                    "with their team members before calibration is complete.",
                ),
            ],
        ),
        (
            "Pay, bonus and promotion",
            [
                (
                    "p",
                    "Your year-end rating, your position in your salary band and the company's "
                    "budget determine your pay increase, which takes effect on 1 April. Employees "
                    "rated Exceptional or Strong are eligible for the annual bonus at or above "
                    "their target; Developing receives half of target; Not yet meeting receives "
                    "no bonus. Promotions are decided twice a year, at the same calibration "
                    "meetings, and take effect on 1 April or 1 October.",
                ),
            ],
        ),
        (
            "If performance is not yet meeting expectations",
            [
                (
                    "p",
                    "An employee rated Not yet meeting agrees a support plan with their manager "
                    "and People Partner. The plan lasts 8 to 12 weeks, sets clear and achievable "
                    "objectives, and includes weekly check-ins. Most people who go through a "
                    "support plan succeed. If performance does not improve, the capability "
                    "procedure may be used.",
                ),
                ("p", "Questions: your People Partner or people@quillon.example."),
            ],
        ),
    ],
}

EXPENSE_LIMITS = {
    "path": "finance/expense_approval_limits.docx",
    "title": "Expense Approval Limits",
    "subtitle": "Finance standard FIN-STD-003. Effective 1 January 2026. Owner: Financial "
    "Controller.",
    "created": datetime(2025, 12, 10, 9, 15, 0, tzinfo=UTC),
    "subject": "Who can approve expense claims and corporate card spend, by level",
    "sections": [
        (
            "Purpose",
            [
                (
                    "p",
                    "This standard sets out who may approve employee expense claims and corporate "
                    "card spend, and the limits that apply at each level. It supports the Travel "
                    "and Expenses Policy, which explains what can be claimed. Purchases from "
                    "suppliers follow the purchase order process instead.",
                ),
            ],
        ),
        (
            "Principles",
            [
                (
                    "bullets",
                    [
                        "Nobody may approve their own expenses, or expenses that benefit them "
                        "directly (for example, a team dinner they attended, where the most "
                        "senior attendee must not approve the claim).",
                        "Claims are routed in Ledgerly to the claimant's line manager. If a claim "
                        "is above the line manager's limit, Ledgerly sends it on to the next "
                        "level automatically.",
                        "Approvers must check that each item has a receipt, a business purpose "
                        "and the right cost centre.",
                        "A limit applies to a single claim. Splitting a claim to stay under a "
                        "limit is a breach of this standard.",
                    ],
                ),
            ],
        ),
        (
            "Approval limits by level",
            [
                (
                    "p",
                    "Limits are in pounds sterling; for Lisbon and Toronto, Finance applies the "
                    "annual conversion rate set each January.",
                ),
                (
                    "table",
                    [
                        [
                            "Level",
                            "Typical roles",
                            "Maximum single claim you can approve",
                            "Corporate card monthly limit",
                        ],
                        [
                            "L1 to L3",
                            "Associates, professionals, senior professionals",
                            "Cannot approve claims",
                            "GBP 2,000",
                        ],
                        ["L4 Lead", "Team leads, product managers", "GBP 1,000", "GBP 3,000"],
                        [
                            "L5 Manager",
                            "Engineering managers, principal engineers",
                            "GBP 2,500",
                            "GBP 5,000",
                        ],
                        ["L6 Senior Manager", "Heads of department", "GBP 5,000", "GBP 7,500"],
                        ["L7 Director", "Directors", "GBP 15,000", "GBP 10,000"],
                        [
                            "L8 Vice President",
                            "VPs and Executive Leadership Team",
                            "GBP 25,000",
                            "GBP 15,000",
                        ],
                        ["CFO", "Chief Financial Officer", "Above GBP 25,000", "Set by the CEO"],
                    ],
                ),
                (
                    "p",
                    "Expenses claimed by members of the Executive Leadership Team are approved by "
                    "the CEO; the CEO's expenses are approved by the Chair of the Audit "
                    "Committee.",
                ),
            ],
        ),
        (
            "Finance review",
            [
                (
                    "p",
                    "In addition to approval by the line manager, Finance reviews every claim "
                    "over GBP 2,500 and a random sample of 5% of all other claims each month "
                    "before payment. Finance may ask for more information and may reject items "
                    "that do not follow the policy.",
                ),
            ],
        ),
        (
            "Entertainment limits",
            [
                (
                    "table",
                    [
                        ["Type", "Limit per person, including drinks", "Approval"],
                        ["Client entertainment", "GBP 75", "Agreed in advance by an L6 or above"],
                        [
                            "Team events and celebrations",
                            "GBP 40, up to twice a year per team",
                            "Line manager",
                        ],
                        [
                            "Working lunches with colleagues",
                            "Not reimbursed unless a visitor attends",
                            "-",
                        ],
                    ],
                ),
                ("p", "Record the names and organisations of all attendees in the Ledgerly claim."),
            ],
        ),
        (
            "Temporary delegation",
            [
                (
                    "p",
                    "When you are on leave, you can delegate your approvals in Ledgerly to "
                    "another manager at the same level or above for up to 4 weeks. Delegation to "
                    "someone at a lower level is not allowed.",
                ),
                (
                    "p",
                    "Questions about this standard: expenses@quillon.example or the Financial "
                    "Controller, Nikhil Varma (n.varma@quillon.example).",
                ),
            ],
        ),
    ],
}

SUPPLIER_ONBOARDING = {
    "path": "finance/supplier_onboarding_procedure.docx",
    "title": "Supplier Onboarding Procedure",
    "subtitle": "Procurement procedure PRC-PRO-002. Version 2.4, reviewed November 2025. Owner: "
    "Head of Procurement.",
    "created": datetime(2025, 11, 24, 13, 45, 0, tzinfo=UTC),
    "subject": "How a new supplier is checked and set up before a purchase order can be raised",
    "sections": [
        (
            "Purpose and scope",
            [
                (
                    "p",
                    "Before Quillon can raise a purchase order with a new supplier or pay them, "
                    "the supplier must be onboarded: checked, approved and set up in our finance "
                    "systems. This procedure explains the steps and how long they take. It "
                    "applies to every new supplier of goods or services in all three offices, "
                    "including freelancers and one-off purchases over GBP 500.",
                ),
                (
                    "p",
                    "You do not need to onboard a supplier for purchases paid on a corporate card.",
                ),
            ],
        ),
        (
            "Onboarding steps",
            [
                (
                    "table",
                    [
                        ["Step", "Who", "What happens", "Typical time"],
                        [
                            "1. Check",
                            "Requester",
                            "Search ProcureDesk to confirm the supplier is not already approved",
                            "Same day",
                        ],
                        [
                            "2. Request",
                            "Requester",
                            "Submit a 'New supplier' request in ProcureDesk with the business "
                            "reason and expected annual spend",
                            "Same day",
                        ],
                        [
                            "3. Supplier form",
                            "Supplier",
                            "Completes the online onboarding form: company details, tax numbers, "
                            "bank details, insurance",
                            "Up to 5 working days",
                        ],
                        [
                            "4. Due diligence",
                            "Procurement",
                            "Sanctions and adverse media screening; credit check if annual spend "
                            "is over GBP 25,000",
                            "2 working days",
                        ],
                        [
                            "5. Security review",
                            "Information Security",
                            "Security questionnaire and data processing agreement if the supplier "
                            "will access Quillon systems or personal data",
                            "Up to 10 working days",
                        ],
                        [
                            "6. Bank verification",
                            "Finance",
                            "Bank details confirmed by a call-back to a known phone number",
                            "1 working day",
                        ],
                        [
                            "7. Set-up",
                            "Finance",
                            "Supplier created in NetSuite and made available in ProcureDesk",
                            "Up to 3 working days",
                        ],
                    ],
                ),
                (
                    "p",
                    "Steps 4 and 5 run in parallel. In total, onboarding takes up to 15 working "
                    "days. Urgent cases can be completed in 5 working days with the approval of "
                    "the Head of Procurement, but the security review and bank verification are "
                    "never skipped.",
                ),
            ],
        ),
        (
            "Information and documents required",
            [
                (
                    "bullets",
                    [
                        "Registered company name, number and address (or personal details for "
                        "sole traders).",
                        "VAT number or local equivalent (NIF in Portugal, GST/HST number in "
                        "Canada).",
                        "Bank details on the supplier's letterhead or a bank confirmation letter.",
                        "Proof of insurance: public liability and, for professional services, "
                        "professional indemnity of at least GBP 1 million.",
                        "For suppliers processing personal data: completed security questionnaire "
                        "and signed data processing agreement.",
                        "For individuals and freelancers: confirmation from the People Team of "
                        "their employment status for tax purposes (IR35 in the UK).",
                    ],
                ),
            ],
        ),
        (
            "Changes to supplier bank details",
            [
                (
                    "p",
                    "Invoice fraud often starts with a request to change bank details. Finance "
                    "will only change a supplier's bank details after calling the supplier back "
                    "on a phone number already held on file (never a number from the request "
                    "itself) and after a second person in Finance has approved the change. "
                    "Requests received only by email, Slack or letter are never actioned on their "
                    "own. If a supplier asks you to change their bank details, forward the "
                    "request to supplier.onboarding@quillon.example and do not reply with any "
                    "details.",
                ),
            ],
        ),
        (
            "Annual review",
            [
                (
                    "p",
                    "Suppliers with annual spend over GBP 100,000, and all suppliers that process "
                    "personal data, are reviewed once a year by Procurement and Information "
                    "Security. Suppliers with no spend for 18 months are deactivated in NetSuite.",
                ),
            ],
        ),
        (
            "Contacts",
            [
                (
                    "table",
                    [
                        ["Topic", "Contact"],
                        ["Onboarding requests and status", "supplier.onboarding@quillon.example"],
                        ["Procurement advice", "procurement@quillon.example"],
                        [
                            "Head of Procurement",
                            "Tomasz Nowak, t.nowak@quillon.example, +44 113 496 0172",
                        ],
                        ["Security questionnaires", "vendor.security@quillon.example"],
                    ],
                ),
            ],
        ),
    ],
}

DOCX_DOCS = [HYBRID_POLICY, PERFORMANCE_GUIDE, EXPENSE_LIMITS, SUPPLIER_ONBOARDING]


# ================================ RENDERING ================================


class _PolicyPDF(FPDF):
    def __init__(self, doc: dict):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc = doc

    def header(self):
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(
            0, 6, f"Quillon Systems Ltd  |  {self.doc['title']}", new_x="LMARGIN", new_y="NEXT"
        )
        self.ln(2)
        self.set_text_color(0, 0, 0)

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 8, f"{self.doc['label']}  |  Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _check_latin1(text: str, where: str) -> None:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:  # pragma: no cover - content error
        raise ValueError(f"non-Latin-1 text in {where}: {text!r}") from exc


def _render_pdf_blocks(pdf: FPDF, blocks: list, where: str) -> None:
    width = pdf.epw
    for kind, payload in blocks:
        if kind == "p":
            _check_latin1(payload, where)
            pdf.set_font("Helvetica", "", 10)
            pdf.multi_cell(width, 5, payload, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "h":
            _check_latin1(payload, where)
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(width, 6, payload, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "bullets":
            pdf.set_font("Helvetica", "", 10)
            for item in payload:
                _check_latin1(item, where)
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(width - 4, 5, "- " + item, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.5)
            pdf.ln(1.5)
        elif kind == "table":
            pdf.set_font("Helvetica", "", 9)
            ncols = len(payload[0])
            for row in payload:
                for cell in row:
                    _check_latin1(cell, where)
            with pdf.table(
                col_widths=tuple([1] * ncols) if ncols != 2 else (2, 3),
                text_align="LEFT",
                line_height=5,
                first_row_as_headings=True,
            ) as table:
                for row in payload:
                    r = table.row()
                    for cell in row:
                        r.cell(cell)
            pdf.ln(3)
        else:  # pragma: no cover - content error
            raise ValueError(f"unknown block type {kind!r} in {where}")


def build_pdf(doc: dict, out_dir: Path) -> Path:
    pdf = _PolicyPDF(doc)
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_creation_date(doc["created"])
    pdf.set_title(doc["title"])
    pdf.set_author(AUTHOR)
    pdf.set_subject(doc["subject"])
    pdf.set_creator("kbchat scripts/make_sample_docs.py")
    pdf.set_producer("fpdf2")
    pdf.set_keywords(doc["label"].lower())
    pdf.set_lang("en-GB")
    pdf.alias_nb_pages()

    for index, (heading, blocks) in enumerate(doc["sections"]):
        pdf.add_page()
        expected_page = index + 1
        if index == 0:
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(pdf.epw, 9, doc["title"], new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "I", 9)
            pdf.multi_cell(pdf.epw, 5, doc["subtitle"], new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        _check_latin1(heading, doc["path"])
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(pdf.epw, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        _render_pdf_blocks(pdf, blocks, f"{doc['path']} / {heading}")
        if pdf.page_no() != expected_page:
            raise RuntimeError(
                f"{doc['path']}: section {heading!r} overflowed onto page {pdf.page_no()}; "
                "shorten it"
            )

    target = out_dir / doc["path"]
    target.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(target))
    return target


_ZIP_EPOCH = (2026, 1, 1, 0, 0, 0)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a ZIP (DOCX) with fixed timestamps so the bytes are reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            new.create_system = 3
            dst.writestr(new, src.read(info.filename))
    return buf.getvalue()


def build_docx(doc: dict, out_dir: Path) -> Path:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)

    props = document.core_properties
    props.title = doc["title"]
    props.subject = doc["subject"]
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.comments = "Sample document generated by scripts/make_sample_docs.py"
    props.keywords = "quillon; internal"
    props.category = "Policy"
    props.revision = 1
    props.created = doc["created"].replace(tzinfo=None)
    props.modified = doc["created"].replace(tzinfo=None)
    props.last_printed = doc["created"].replace(tzinfo=None)

    document.add_heading(doc["title"], level=1)
    document.add_paragraph().add_run(doc["subtitle"]).italic = True

    for heading, blocks in doc["sections"]:
        document.add_heading(heading, level=2)
        for kind, payload in blocks:
            if kind == "p":
                document.add_paragraph(payload)
            elif kind == "h":
                document.add_heading(payload, level=3)
            elif kind == "bullets":
                for item in payload:
                    document.add_paragraph(item, style="List Bullet")
            elif kind == "table":
                ncols = len(payload[0])
                table = document.add_table(rows=0, cols=ncols)
                table.style = "Table Grid"
                for r_index, row in enumerate(payload):
                    cells = table.add_row().cells
                    for c_index, text in enumerate(row):
                        cells[c_index].text = text
                        if r_index == 0:
                            for run in cells[c_index].paragraphs[0].runs:
                                run.bold = True
                document.add_paragraph("")
            else:  # pragma: no cover - content error
                raise ValueError(f"unknown block type {kind!r} in {doc['path']}")

    buf = io.BytesIO()
    document.save(buf)
    target = out_dir / doc["path"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_normalise_zip(buf.getvalue()))
    return target


def build_all(out_dir: Path) -> list[Path]:
    written = []
    for doc in PDF_DOCS:
        written.append(build_pdf(doc, out_dir))
    for doc in DOCX_DOCS:
        written.append(build_docx(doc, out_dir))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: docs_corpus/)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder and compare with --out; exit 1 on any difference",
    )
    args = parser.parse_args(argv)

    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            built = build_all(tmp_path)
            differing = []
            for path in built:
                rel = path.relative_to(tmp_path)
                committed = args.out / rel
                if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                    differing.append(str(rel))
            if differing:
                print("out of date: " + ", ".join(differing), file=sys.stderr)
                return 1
            print(f"{len(built)} files up to date")
            return 0

    for path in build_all(args.out):
        print(f"wrote {path.relative_to(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A deterministic generator of synthetic support-case logs, for demos, tests and benchmarks.

No real case logs ship with the project. These cases are *synthetic*: made from templates with
product names, error codes, service tags, e-mail threads, signatures, typos, a share of
non-English cases and of empty or automatic-reply cases. The same seed always gives the same
rows. A model trained on them says little about real cases; point the training CLI at real data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PRODUCTS = [
    "Latitude 5440",
    "Latitude 7420",
    "XPS 13 9310",
    "XPS 15 9530",
    "Inspiron 15 3520",
    "Inspiron 14 5430",
    "Precision 5570",
    "Vostro 3510",
    "OptiPlex 7010",
    "Alienware m16",
    "G15 5530",
    "Latitude 9440 2-in-1",
    "Precision 3660 Tower",
    "XPS 17 9720",
]
NAMES = [
    "Anna Schmidt",
    "John Miller",
    "Maria Garcia",
    "Luca Rossi",
    "Sophie Martin",
    "Ana Costa",
    "Peter de Vries",
    "Emily Clark",
    "Raj Patel",
    "Chen Wei",
    "Olivia Brown",
    "Tom Becker",
]
COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Ltd", "Stark Logistics", "Hooli"]

#: English problem statements per category; {p} product, {c} error code, {t} service tag.
CATEGORIES: dict[str, list[str]] = {
    "hardware_failure": [
        "My {p} shows a hardware failure in the ePSA diagnostics, error code {c}.",
        "The motherboard on my {p} seems dead, the power light blinks amber and nothing happens.",
        "Diagnostics on the {p} report a memory failure {c}, one of the RAM modules is faulty.",
        "The USB-C ports on my {p} stopped working, no device is recognised any more.",
        "The {p} makes a clicking noise and then shuts off, I think a component has failed.",
        "Our {p} fails the hardware test with {c}, the system board probably needs replacing.",
    ],
    "battery_power": [
        "The battery of my {p} drains from 100% to 0 in under an hour.",
        "My {p} does not charge any more, the charger LED is on but the battery stays at 0%.",
        "The battery on the {p} is swollen and the touchpad is lifting up.",
        "The AC adapter of my {p} is not recognised, BIOS says unknown adapter type.",
        "The {p} shuts down at 30% battery without warning, battery health shows poor.",
        "My laptop {p} won't power on unless plugged in, the battery seems dead.",
    ],
    "display": [
        "The screen of my {p} flickers and shows horizontal lines.",
        "There are dead pixels and a dark spot in the middle of the display of my {p}.",
        "The display on the {p} stays black but the external monitor works fine.",
        "The brightness on my {p} cannot be changed, the panel is stuck at maximum.",
        "The touchscreen of the {p} registers phantom touches all the time.",
        "The LCD on my {p} has a pink tint and the colours look washed out.",
    ],
    "boot_bios": [
        "My {p} is stuck on the logo at boot and never reaches Windows.",
        "After the BIOS update the {p} does not boot, it shows no bootable device found.",
        "The {p} beeps three times on startup and does not POST.",
        "BIOS asks for an admin password on my {p} that we never set.",
        "The {p} boots into the BIOS setup every time, secure boot error {c}.",
        "Boot loop on the {p}: it restarts over and over before the login screen.",
    ],
    "os_drivers": [
        "After the latest Windows update my {p} shows a blue screen {c}.",
        "The audio driver on my {p} keeps crashing, there is no sound at all.",
        "Device manager shows an unknown device on the {p} after reinstalling Windows.",
        "The graphics driver of the {p} crashes when I connect the docking station.",
        "My {p} gets a BSOD with stop code {c} several times a day.",
        "Windows on the {p} is very slow since the driver update, CPU at 100% all the time.",
    ],
    "network_wifi": [
        "The WiFi on my {p} keeps disconnecting every few minutes.",
        "My {p} cannot see any wireless networks, the wifi adapter is missing.",
        "Ethernet does not work on the {p} through the dock, no network cable detected.",
        "Bluetooth on the {p} does not find my headset any more.",
        "The wireless connection on my {p} is extremely slow compared to other laptops.",
        "VPN drops and the wlan card resets on the {p}, event log shows {c}.",
    ],
    "storage": [
        "The SSD in my {p} is not detected, BIOS shows no hard drive.",
        "My {p} reports a hard drive failure {c} and files are corrupted.",
        "The NVMe drive on the {p} is at 100% usage and the disk is very slow.",
        "SMART warning on the {p}: the drive is about to fail, please replace the disk.",
        "I lost data after the {p} froze, the disk now shows as RAW.",
        "The second SSD slot on my {p} does not recognise the new drive.",
    ],
    "keyboard_touchpad": [
        "Several keys on the keyboard of my {p} do not work, E and R are dead.",
        "The touchpad of my {p} jumps around and clicks by itself.",
        "The keyboard backlight on the {p} does not turn on any more.",
        "Keys on my {p} type double letters and the space bar sticks.",
        "The trackpad on my {p} stopped responding after the update, mouse works.",
        "Liquid spilled on the keyboard of the {p}, now some keys type wrong characters.",
    ],
    "thermal_fan": [
        "The fan of my {p} is extremely loud and runs at full speed all the time.",
        "My {p} overheats and throttles, the bottom is too hot to touch.",
        "The {p} shuts down from overheating when I run video calls, fan error {c}.",
        "Fan makes a grinding noise on the {p}, and the CPU temperature hits 100 degrees.",
        "The cooling fan on my {p} does not spin at all, thermal warning at boot.",
        "The {p} gets very hot while idle and the fans never stop.",
    ],
    "order_shipping": [
        "I ordered a {p} two weeks ago and it has still not shipped, order number {o}.",
        "The tracking for order {o} has not been updated in five days, where is my {p}?",
        "I received the wrong item, I ordered a {p} but got a different model, order {o}.",
        "The package with my {p} arrived damaged, the box was crushed. Order {o}.",
        "Can you change the delivery address for order {o}? The {p} should go to our office.",
        "My order {o} shows delivered but no {p} was received.",
    ],
    "warranty_billing": [
        "I was charged twice for my {p}, invoice {o}, please refund one payment.",
        "Please check the warranty status of my {p}, service tag {t}, it shows expired.",
        "I want to extend the warranty on the {p} to ProSupport Plus for 3 years.",
        "The invoice for order {o} has the wrong VAT number, please correct it.",
        "My warranty claim for the {p} was rejected although it is still under warranty.",
        "I need a credit note for the returned {p}, refund not received yet, order {o}.",
    ],
    "software_install": [
        "How do I install Microsoft Office on my new {p}? The license key is not accepted.",
        "The installer for SupportAssist fails on my {p} with error {c}.",
        "I cannot install the drivers from the support site on the {p}, setup aborts.",
        "Need help to reinstall Windows 11 on the {p}, the recovery image does not download.",
        "The antivirus installation on my {p} hangs at 50 percent.",
        "Software activation fails on the {p}, the product key is reported as invalid.",
    ],
    "docking_peripherals": [
        "The WD19 dock does not detect my external monitors with the {p}.",
        "My {p} does not charge through the Thunderbolt dock, only the USB ports work.",
        "The docking station firmware update fails on the {p} with {c}.",
        "External displays flicker when the {p} is connected to the dock.",
        "The wireless mouse and keyboard combo lag badly with my {p}.",
        "The webcam and headset connected to the dock disconnect randomly from the {p}.",
    ],
}

#: One statement per category in five other languages: the share of non-English cases.
FOREIGN: dict[str, dict[str, str]] = {
    "de": {
        "hardware_failure": "Mein {p} zeigt bei der Diagnose einen Hardwarefehler {c}, das Mainboard ist wohl defekt.",
        "battery_power": "Der Akku meines {p} lädt nicht mehr und entlädt sich sehr schnell.",
        "display": "Der Bildschirm von meinem {p} flackert und zeigt Streifen.",
        "boot_bios": "Mein {p} startet nicht mehr nach dem BIOS Update und bleibt beim Logo hängen.",
        "os_drivers": "Nach dem Windows Update bekomme ich einen Bluescreen {c} auf dem {p}.",
        "network_wifi": "Das WLAN auf meinem {p} bricht ständig ab und findet keine Netzwerke.",
        "storage": "Die Festplatte in meinem {p} wird nicht mehr erkannt, Fehler {c}.",
        "keyboard_touchpad": "Einige Tasten der Tastatur meines {p} funktionieren nicht mehr.",
        "thermal_fan": "Der Lüfter meines {p} ist sehr laut und das Gerät wird extrem heiß.",
        "order_shipping": "Meine Bestellung {o} für ein {p} wurde noch nicht versendet.",
        "warranty_billing": "Mir wurde die Rechnung {o} doppelt belastet, bitte erstatten Sie den Betrag.",
        "software_install": "Die Installation von Office auf meinem neuen {p} schlägt fehl.",
        "docking_peripherals": "Die Dockingstation erkennt meine externen Monitore am {p} nicht.",
    },
    "fr": {
        "hardware_failure": "Mon {p} affiche une panne matérielle {c} lors du diagnostic.",
        "battery_power": "La batterie de mon {p} ne se charge plus et se vide très vite.",
        "display": "L'écran de mon {p} clignote et affiche des lignes horizontales.",
        "boot_bios": "Mon {p} ne démarre plus après la mise à jour du BIOS.",
        "os_drivers": "Après la mise à jour de Windows, mon {p} affiche un écran bleu {c}.",
        "network_wifi": "Le wifi de mon {p} se déconnecte sans arrêt.",
        "storage": "Le disque dur de mon {p} n'est plus détecté, erreur {c}.",
        "keyboard_touchpad": "Plusieurs touches du clavier de mon {p} ne fonctionnent plus.",
        "thermal_fan": "Le ventilateur de mon {p} fait beaucoup de bruit et l'ordinateur chauffe.",
        "order_shipping": "Ma commande {o} pour un {p} n'a toujours pas été expédiée.",
        "warranty_billing": "J'ai été facturé deux fois pour la commande {o}, merci de me rembourser.",
        "software_install": "L'installation du logiciel échoue sur mon nouveau {p}.",
        "docking_peripherals": "La station d'accueil ne détecte pas mes écrans externes avec le {p}.",
    },
    "es": {
        "hardware_failure": "Mi {p} muestra un fallo de hardware {c} en el diagnóstico.",
        "battery_power": "La batería de mi {p} no carga y se descarga muy rápido.",
        "display": "La pantalla de mi {p} parpadea y muestra líneas.",
        "boot_bios": "Mi {p} no arranca después de actualizar la BIOS.",
        "os_drivers": "Después de la actualización de Windows mi {p} muestra una pantalla azul {c}.",
        "network_wifi": "El wifi de mi {p} se desconecta constantemente.",
        "storage": "El disco duro de mi {p} no se detecta, error {c}.",
        "keyboard_touchpad": "Varias teclas del teclado de mi {p} no funcionan.",
        "thermal_fan": "El ventilador de mi {p} hace mucho ruido y el equipo se calienta demasiado.",
        "order_shipping": "Mi pedido {o} de un {p} todavía no ha sido enviado.",
        "warranty_billing": "Me cobraron dos veces la factura {o}, por favor devuelvan el importe.",
        "software_install": "La instalación del programa falla en mi nuevo {p}.",
        "docking_peripherals": "La estación de acoplamiento no detecta mis monitores con el {p}.",
    },
    "it": {
        "hardware_failure": "Il mio {p} segnala un guasto hardware {c} durante la diagnostica.",
        "battery_power": "La batteria del mio {p} non si carica più e si scarica subito.",
        "display": "Lo schermo del mio {p} sfarfalla e mostra delle righe.",
        "boot_bios": "Il mio {p} non si avvia più dopo l'aggiornamento del BIOS.",
        "os_drivers": "Dopo l'aggiornamento di Windows il mio {p} mostra una schermata blu {c}.",
        "network_wifi": "Il wifi del mio {p} si disconnette continuamente.",
        "storage": "Il disco del mio {p} non viene più rilevato, errore {c}.",
        "keyboard_touchpad": "Alcuni tasti della tastiera del mio {p} non funzionano.",
        "thermal_fan": "La ventola del mio {p} è molto rumorosa e il computer si surriscalda.",
        "order_shipping": "Il mio ordine {o} per un {p} non è ancora stato spedito.",
        "warranty_billing": "La fattura {o} mi è stata addebitata due volte, chiedo il rimborso.",
        "software_install": "L'installazione del software non riesce sul mio nuovo {p}.",
        "docking_peripherals": "La docking station non rileva i miei monitor esterni con il {p}.",
    },
    "pt": {
        "hardware_failure": "O meu {p} mostra uma falha de hardware {c} no diagnóstico.",
        "battery_power": "A bateria do meu {p} não carrega e descarrega muito rápido.",
        "display": "A tela do meu {p} pisca e mostra linhas horizontais.",
        "boot_bios": "O meu {p} não liga depois da atualização da BIOS.",
        "os_drivers": "Depois da atualização do Windows o meu {p} mostra uma tela azul {c}.",
        "network_wifi": "O wifi do meu {p} desconecta o tempo todo.",
        "storage": "O disco do meu {p} não é reconhecido, erro {c}.",
        "keyboard_touchpad": "Várias teclas do teclado do meu {p} não funcionam.",
        "thermal_fan": "A ventoinha do meu {p} faz muito barulho e o computador aquece demais.",
        "order_shipping": "A minha encomenda {o} de um {p} ainda não foi enviada.",
        "warranty_billing": "Fui cobrado duas vezes pela fatura {o}, peço o reembolso.",
        "software_install": "A instalação do programa falha no meu novo {p}.",
        "docking_peripherals": "A dock não deteta os meus monitores externos com o {p}.",
    },
}

OPENERS = [
    "Hello,",
    "Hi support,",
    "Dear Support Team,",
    "Hi,",
    "Good morning,",
    "Hello team,",
    "",
    "Hi there,",
    "Dear Sir or Madam,",
]
CONTEXT = [
    "I have already restarted it several times.",
    "This started yesterday after I came back from a trip.",
    "I tried the steps from the knowledge base but nothing changed.",
    "The machine is only three months old.",
    "It is urgent because I need the laptop for a customer meeting.",
    "My service tag is {t}.",
    "You can reach me at {e} or call {ph}.",
    "Our IT department already ran the diagnostics.",
    "The problem happens both on battery and on AC power.",
    "Please advise what to do next.",
    "We have 20 of these machines and two show the same issue.",
    "Connected from IP {ip} if you need the logs.",
]
#: Vague statements that fit any category: irreducible error, as in real case logs.
VAGUE = [
    "My {p} is not working properly, please help.",
    "I have a problem with my {p} and need support.",
    "Something is wrong with the {p} since last week.",
    "The {p} we bought does not work as expected, please call me back.",
    "Please open a ticket for the {p}, the user reports issues.",
]
#: Share of cases that also mention a second, unrelated problem, or are only vague.
SECOND_TOPIC_SHARE = 0.25
VAGUE_SHARE = 0.05
CLOSERS = ["Thanks,", "Best regards,", "Kind regards,", "Thank you,", "Cheers,", "Regards,"]
AUTO_REPLIES = [
    "Automatic reply: I am currently out of the office until Monday with limited access to email.",
    "Out of Office: I am on vacation and will reply when I am back.",
    "Abwesenheitsnotiz: Ich bin derzeit nicht im Büro.",
    "Réponse automatique : je suis absent du bureau jusqu'au 3.",
    "Delivery Status Notification (Failure): the message could not be delivered.",
    "Auto-Reply: Thank you for your email. This mailbox is not monitored.",
]
EMPTY_CASES = ["", "   ", "\n\n", "-- \nSent from my iPhone", "<html><body></body></html>", "ok", "?"]
ERROR_CODES = [
    "0x0000007B",
    "2000-0142",
    "2000-0151",
    "0xC000021A",
    "PXE-E61",
    "2000-0415",
    "0x80070005",
    "E2001",
    "2000-0333",
    "0x0000009F",
    "2000-0511",
    "IRQL_NOT_LESS_OR_EQUAL",
]

#: Share of each kind of case; the rest is English.
FOREIGN_SHARE = 0.10
NOISE_SHARE = 0.04  # empty and auto-reply cases
TYPO_RATE = 0.04
#: Share of training labels deliberately wrong, which the feedback file mostly corrects.
LABEL_NOISE = 0.03


@dataclass(frozen=True, slots=True)
class Case:
    """One synthetic case: id, raw log, true label, and the language it was written in."""

    case_id: str
    text: str
    label: str
    language: str


def _service_tag(rng: random.Random) -> str:
    alphabet = "BCDFGHJKLMNPQRSTVWXYZ0123456789"
    while True:
        tag = "".join(rng.choice(alphabet) for _ in range(7))
        if any(c.isdigit() for c in tag) and any(c.isalpha() for c in tag):
            return tag


def _slots(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(NAMES).split(" ", 1)
    return {
        "p": rng.choice(PRODUCTS),
        "c": rng.choice(ERROR_CODES),
        "t": _service_tag(rng),
        "o": f"{rng.randint(100, 999)}-{rng.randint(1000000, 9999999)}",
        "e": f"{first.lower()}.{last.lower().replace(' ', '')}@{rng.choice(COMPANIES).split()[0].lower()}.com",
        "ph": f"+{rng.choice([1, 44, 49, 33, 34])} {rng.randint(100, 999)} "
        f"{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
        "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "name": f"{first} {last}",
    }


def _typos(rng: random.Random, text: str) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 4 and word.isalpha() and rng.random() < TYPO_RATE:
            j = rng.randrange(1, len(word) - 1)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def _signature(rng: random.Random, slots: dict[str, str]) -> str:
    lines = [rng.choice(CLOSERS), slots["name"]]
    if rng.random() < 0.5:
        lines += [rng.choice(COMPANIES), f"Phone: {slots['ph']}", slots["e"]]
    return "\n".join(lines)


def _english_case(rng: random.Random, label: str) -> str:
    slots = _slots(rng)
    if rng.random() < VAGUE_SHARE:
        body = [rng.choice(VAGUE).format(**slots)]
    else:
        body = [rng.choice(CATEGORIES[label]).format(**slots)]
    if rng.random() < SECOND_TOPIC_SHARE:  # "also, ..." a minor second problem
        other = rng.choice([c for c in CATEGORIES if c != label])
        body.append("Also, " + rng.choice(CATEGORIES[other]).format(**_slots(rng)).lower())
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        body.append(rng.choice(CONTEXT).format(**slots))
    if rng.random() < 0.3:  # a second statement of the same problem
        body.append(rng.choice(CATEGORIES[label]).format(**_slots(rng)))
    opener = rng.choice(OPENERS)
    text = "\n\n".join(([opener] if opener else []) + [_typos(rng, " ".join(body)), _signature(rng, slots)])
    shape = rng.random()
    if shape < 0.25:  # a reply on top of an older message of another topic
        older_label = rng.choice(list(CATEGORIES))
        older = rng.choice(CATEGORIES[older_label]).format(**_slots(rng))
        text += f"\n\nOn Mon, 3 Mar 2025 at 10:12, Support <support@example.com> wrote:\n> {older}\n> Regards, Support"
    elif shape < 0.35:
        text = (
            f"-----Original Message-----\nFrom: {slots['name']} <{slots['e']}>\nSent: Tuesday\nSubject: case\n\n" + text
        )
    elif shape < 0.45:
        paragraphs = "".join(f"<p>{part}</p>" for part in text.split("\n\n"))
        text = f"<html><body><div>{paragraphs}</div></body></html>"
    return text


def _foreign_case(rng: random.Random, label: str, language: str) -> str:
    slots = _slots(rng)
    return f"{FOREIGN[language][label].format(**slots)}\n\n{slots['name']}"


def generate_cases(n: int, seed: int = 0, prefix: str = "C") -> list[Case]:
    """Generate ``n`` synthetic cases, deterministically for a given seed.

    Args:
        n: Number of cases.
        seed: Random seed; the same seed always gives the same cases.
        prefix: Case-id prefix, so training and validation ids never collide.
    """
    rng = random.Random(seed)
    labels = sorted(CATEGORIES)
    languages = sorted(FOREIGN)
    cases = []
    for i in range(n):
        label = labels[i % len(labels)] if i < len(labels) else rng.choice(labels)
        draw = rng.random()
        if draw < NOISE_SHARE:
            text = rng.choice(AUTO_REPLIES + EMPTY_CASES)
            language = "unknown"
        elif draw < NOISE_SHARE + FOREIGN_SHARE:
            language = rng.choice(languages)
            text = _foreign_case(rng, label, language)
        else:
            language = "en"
            text = _english_case(rng, label)
        cases.append(Case(f"{prefix}{seed:02d}-{i:06d}", text, label, language))
    return cases


def noisy_labels(cases: list[Case], seed: int = 0) -> tuple[list[str], list[dict[str, str]]]:
    """Corrupt a share of labels, as agents' first picks do, and write the corrections.

    Returns:
        The (partly wrong) labels to train on, and feedback rows (``case_id``,
        ``corrected_label``, ``timestamp``) that correct most of them; some cases are corrected
        twice, the later correction being the right one.
    """
    rng = random.Random(seed + 1)
    labels = sorted(CATEGORIES)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    noisy, feedback = [], []
    for case in cases:
        if rng.random() >= LABEL_NOISE:
            noisy.append(case.label)
            continue
        wrong = rng.choice([label for label in labels if label != case.label])
        noisy.append(wrong)
        if rng.random() < 0.85:
            when = start + timedelta(minutes=rng.randint(0, 500_000))
            if rng.random() < 0.2:  # a first, wrong correction, later overridden
                other = rng.choice([label for label in labels if label not in (case.label, wrong)])
                feedback.append(_feedback(case.case_id, other, when - timedelta(days=3)))
            feedback.append(_feedback(case.case_id, case.label, when))
    rng.shuffle(feedback)
    return noisy, feedback


def _feedback(case_id: str, label: str, when: datetime) -> dict[str, str]:
    return {"case_id": case_id, "corrected_label": label, "timestamp": when.isoformat()}

"""Text material for the SLURP-like intent corpus (written for ssltk).

Scenario, action and slot-type names follow SLURP's label set; the templates
and fillers are ours: everyday voice-assistant commands.  In a template,
``{type}`` is a slot annotated SLURP-style as ``[type : filler]``, and
``{_name}`` is a plain filler word that is not a slot.
"""

from __future__ import annotations

import re

import numpy as np

TEMPLATES: dict[str, dict[str, list[str]]] = {
    "alarm": {
        "set": ["wake me up at {time} {date}", "set an alarm for {time}",
                "please set an alarm for {time} {date}", "i need an alarm at {time} {date}"],
        "query": ["what alarms do i have {date}", "show me my alarms for {date}",
                  "is there an alarm set for {time}", "when is my next alarm"],
        "remove": ["cancel my alarm for {time}", "delete the alarm for {date}",
                   "remove the {time} alarm", "turn off all my alarms for {date}"],
    },
    "audio": {
        "volume_up": ["turn the volume up", "make it louder",
                      "increase the volume by {change_amount}", "louder please",
                      "raise the volume to {change_amount}"],
        "volume_down": ["turn the volume down", "make it quieter",
                        "lower the volume by {change_amount}",
                        "reduce the volume to {change_amount}"],
        "volume_mute": ["mute the speaker", "mute everything", "silence please",
                        "mute the sound in the {house_place}"],
    },
    "calendar": {
        "set": ["add {event_name} to my calendar for {date}",
                "remind me about {event_name} at {time}",
                "schedule {event_name} with {person} {date}",
                "book a meeting with {person} at {time} {date}"],
        "query": ["what is on my calendar for {date}", "do i have any meetings {date}",
                  "when is the {event_name}", "am i free {date} at {time}"],
        "remove": ["cancel the {event_name} {date}", "remove {event_name} from my calendar",
                   "delete my meeting with {person} {date}"],
    },
    "email": {
        "sendemail": ["send an email to {person} about the {event_name}",
                      "email {person} that i will be late", "write an email to my {relation}",
                      "reply to the email from {person}"],
        "query": ["do i have any new emails", "check my email from {person}",
                  "read my latest email", "are there any emails from my {relation}"],
        "querycontact": ["what is the phone number of {person}",
                         "show me the contact details for {person}",
                         "what is the email address of my {relation}"],
        "addcontact": ["add {person} to my contacts", "save this email address for {person}",
                       "create a new contact for my {relation}"],
    },
    "general": {
        "joke": ["tell me a joke", "tell me something funny", "tell me a joke about {joke_type}",
                 "do you know any good jokes"],
        "praise": ["thank you that was great", "you are very helpful", "good job",
                   "well done thank you"],
        "repeat": ["say that again", "can you repeat that please", "repeat the last thing you said",
                   "what did you just say"],
    },
    "iot": {
        "hue_lighton": ["turn on the lights in the {house_place}",
                        "switch the {house_place} lights on",
                        "lights on in the {house_place} please"],
        "hue_lightoff": ["turn off the lights in the {house_place}",
                         "switch off the {house_place} light", "lights off in the {house_place}"],
        "hue_lightchange": ["change the lights to {color_type}",
                            "make the {house_place} lights {color_type}",
                            "set the light colour to {color_type}"],
        "cleaning": ["start the vacuum cleaner", "clean the {house_place}",
                     "turn on the robot vacuum in the {house_place}"],
        "coffee": ["make me a {coffee_type}", "i would like a {coffee_type} please",
                   "start the coffee machine", "brew a {coffee_type} at {time}"],
    },
    "lists": {
        "createoradd": ["add {food_type} to my {list_name} list",
                        "create a new list called {list_name}",
                        "put {food_type} on the {list_name} list"],
        "query": ["what is on my {list_name} list", "read me my {list_name} list",
                  "show me all my lists", "is {food_type} on my {list_name} list"],
        "remove": ["remove {food_type} from my {list_name} list", "delete my {list_name} list",
                   "clear the {list_name} list"],
    },
    "music": {
        "query": ["what song is this", "who sings this song", "what is the name of this song",
                  "which album is this song from"],
        "likeness": ["i like {artist_name}", "i love this {music_genre} song",
                     "remember that i like {music_genre}", "this is my favourite song"],
        "settings": ["shuffle my playlist", "turn on repeat", "play the songs in random order",
                     "turn shuffle off"],
    },
    "play": {
        "music": ["play some {music_genre}", "play music by {artist_name}",
                  "i want to hear {artist_name}", "play {song_name} by {artist_name}"],
        "radio": ["play {radio_name}", "turn on the radio", "tune in to {radio_name}",
                  "put the radio on {radio_name}"],
        "podcasts": ["play the next episode of {podcast_name}",
                     "play a {podcast_descriptor} podcast",
                     "resume the podcast {podcast_name}"],
        "audiobook": ["continue my audiobook", "play the audiobook {audiobook_name}",
                      "read {audiobook_name} to me"],
    },
    "qa": {
        "factoid": ["what is the capital of {place_name}", "how far is {place_name} from here",
                    "how many people live in {place_name}",
                    "what language do they speak in {place_name}"],
        "definition": ["what does {definition_word} mean", "define {definition_word}",
                       "what is the meaning of the word {definition_word}"],
        "currency": ["what is the exchange rate for the {currency_name}",
                     "how much is one {currency_name} in {currency_name}",
                     "convert {currency_name} to {currency_name}"],
        "maths": ["what is {_number} plus {_number}", "what is {_number} times {_number}",
                  "divide {_number} by {_number}", "what is {_number} minus {_number}"],
    },
    "recommendation": {
        "events": ["are there any concerts {date}", "what events are on in {place_name} {date}",
                   "recommend something to do {timeofday}"],
        "locations": ["recommend a good {business_type} near me",
                      "where can i find a {business_type}",
                      "what is the best {business_type} in {place_name}"],
        "movies": ["recommend a {movie_type} movie", "what movie should i watch {timeofday}",
                   "suggest a good {movie_type} film"],
    },
    "transport": {
        "query": ["when is the next {transport_type} to {place_name}",
                  "how long does the {transport_type} take to {place_name}",
                  "what time does the {transport_type} to {place_name} leave"],
        "ticket": ["book a {transport_type} ticket to {place_name} {date}",
                   "buy me a ticket to {place_name}", "i need two tickets to {place_name} {date}"],
        "taxi": ["call me a taxi to {place_name}", "book a taxi for {time}",
                 "i need a cab to the {business_type}"],
        "traffic": ["how is the traffic to {place_name}", "is there traffic on the way to work",
                    "are the roads to {place_name} busy {timeofday}"],
    },
}

FILLERS: dict[str, list[str]] = {
    "time": ["five am", "six thirty", "seven am", "half past seven", "eight pm", "noon",
             "midnight", "quarter to nine", "ten fifteen", "four in the afternoon", "nine pm",
             "eleven thirty"],
    "date": ["tomorrow", "today", "monday", "friday", "this weekend", "next week",
             "the first of may", "saturday morning", "wednesday", "the day after tomorrow"],
    "timeofday": ["tonight", "this evening", "this afternoon", "in the morning", "at the weekend"],
    "change_amount": ["ten percent", "twenty percent", "half", "level five", "the maximum"],
    "house_place": ["kitchen", "bedroom", "living room", "bathroom", "garage", "hallway", "office"],
    "event_name": ["dentist appointment", "team meeting", "birthday party", "yoga class",
                   "parents evening", "football practice", "book club", "doctor visit"],
    "person": ["john", "mary", "thabo", "lerato", "peter", "sarah", "ahmed", "anna", "david",
               "grace", "kagiso", "linda"],
    "relation": ["mother", "father", "sister", "brother", "boss", "wife", "husband", "friend",
                 "teacher", "neighbour"],
    "joke_type": ["animals", "computers", "doctors", "football", "cats"],
    "color_type": ["red", "blue", "green", "warm white", "purple", "yellow", "orange"],
    "coffee_type": ["cappuccino", "latte", "black coffee", "espresso", "flat white"],
    "food_type": ["milk", "bread", "eggs", "apples", "rice", "tomatoes", "coffee beans", "cheese",
                  "onions", "chicken"],
    "list_name": ["shopping", "groceries", "holiday", "to do", "birthday", "work"],
    "artist_name": ["the river band", "maria santos", "the blue lights", "sam cole",
                    "the morning choir", "nina park"],
    "music_genre": ["jazz", "rock", "classical", "pop", "reggae", "hip hop", "country", "gospel"],
    "song_name": ["summer rain", "golden hour", "city lights", "long road home", "dancing queen"],
    "radio_name": ["radio one", "jazz fm", "classic gold", "the news channel", "kitchen radio"],
    "podcast_name": ["history hour", "science weekly", "the daily story", "money talks"],
    "podcast_descriptor": ["comedy", "true crime", "cooking", "science", "sports"],
    "audiobook_name": ["the old man and the sea", "treasure island", "little women",
                       "the time machine"],
    "place_name": ["london", "paris", "gaborone", "cape town", "nairobi", "madrid", "tokyo",
                   "berlin", "lagos", "johannesburg", "edinburgh", "toronto"],
    "definition_word": ["serendipity", "photosynthesis", "democracy", "gravity", "empathy",
                        "algorithm"],
    "currency_name": ["dollar", "euro", "pound", "rand", "pula", "yen"],
    "business_type": ["restaurant", "pharmacy", "bakery", "coffee shop", "bank", "hospital",
                      "petrol station", "cinema"],
    "movie_type": ["comedy", "action", "horror", "romantic", "science fiction", "family"],
    "transport_type": ["train", "bus", "tram", "ferry", "plane"],
    "_number": ["two", "three", "five", "seven", "ten", "twelve", "fifteen", "twenty", "forty",
                "hundred"],
}

_SLOT = re.compile(r"\{(\w+)\}")


def intents() -> list[tuple[str, str]]:
    """Every (scenario, action) pair, in a fixed order."""
    return [(s, a) for s, actions in TEMPLATES.items() for a in actions]


def fill(template: str, rng: np.random.Generator) -> tuple[str, str, list[tuple[list[int], str]]]:
    """Fill a template: (sentence, SLURP annotation, entities as (token ids, slot type)).

    A slot type used twice in one template gets two different fillers.
    """
    words: list[str] = []
    annot: list[str] = []
    entities: list[tuple[list[int], str]] = []
    used: dict[str, set[int]] = {}
    for i, piece in enumerate(_SLOT.split(template)):
        if i % 2:  # split() alternates literal text (even) and slot names (odd)
            choices = [i for i in range(len(FILLERS[piece])) if i not in used.get(piece, set())]
            k = choices[int(rng.integers(len(choices)))]
            used.setdefault(piece, set()).add(k)
            filler = FILLERS[piece][k].split()
            if not piece.startswith("_"):
                entities.append((list(range(len(words), len(words) + len(filler))), piece))
                annot.append(f"[{piece} : {' '.join(filler)}]")
            else:
                annot.extend(filler)
            words.extend(filler)
        else:
            words.extend(piece.split())
            annot.extend(piece.split())
    return " ".join(words), " ".join(annot), entities


def count_sentences() -> int:
    """How many distinct sentences the templates can make (an upper bound)."""
    total = 0
    for actions in TEMPLATES.values():
        for templates in actions.values():
            for t in templates:
                n = 1
                for slot in _SLOT.findall(t):
                    n *= len(FILLERS[slot])
                total += n
    return total

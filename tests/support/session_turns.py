"""Conversation turns for the suites that check a session continues exactly: greedy, a fixed
number of tokens, so the same state always yields the same ids."""

TURN_TOKENS = 12
FIRST_TURN = "Call me Ishmael. Some years ago, never mind how long precisely,"
SECOND_TURN = " having little or no money in my purse,"


def turn(client, session_id, text):
    """The token ids the session generates after `text`."""
    return client.complete(text, session_id=session_id, max_new_tokens=TURN_TOKENS,
                           ignore_eos=True).token_ids

"""`lab gameday`: several trainees drill at once, each on their own stack, each in their own browser tab, with a
facilitator's page over all of them. Every drill is an ordinary `lab drill` process; the game day starts them,
talks to them through their control sockets, follows their recordings, and serves the pages."""

"""The first-week camp: today's task, 打卡 with proof, calendar and streak, wins feed, rankings, posters."""

-- bench --daw ardour, step 1 (ardour7-lua, on the running JACK server): a new session
-- at 120 BPM in 4/4 with two MIDI tracks, "Player" (plays the phrases) and "Answer"
-- (records the assistant). Prints SETUP_OK when saved.
-- usage: ardour7-lua -X ardour_session.lua <session_dir> <name>
local dir, name = arg[1], arg[2]
AudioEngine:set_backend("JACK", "ardour", "")
local s = create_session(dir, name, 48000)
if not s then print("SETUP_FAIL create_session returned nil") os.exit(3) end
local tm = Temporal.TempoMap.fetch_writable()
tm:set_tempo(Temporal.Tempo(120, 120, 4), Temporal.timepos_t(0))
tm:set_meter(Temporal.Meter(4, 4), Temporal.timepos_t(0))
Temporal.TempoMap.update(tm)
local function midi_track(track_name)
  local one = ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1)
  local list = Session:new_midi_track(one, one, false, ARDOUR.PluginInfo(), nil, nil, 1, track_name,
                                      ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, false, false)
  for t in list:iter() do return t end
end
if not midi_track("Player") or not midi_track("Answer") then print("SETUP_FAIL tracks") os.exit(4) end
if Session:save_state("", false, false, false, false, false) ~= 0 then print("SETUP_FAIL save") os.exit(5) end
print("SETUP_OK")

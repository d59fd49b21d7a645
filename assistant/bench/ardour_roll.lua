-- bench --daw ardour, step 2 (ardour7-lua): load the session, wire it to the assistant
-- as a musician would (Player's MIDI out and Ardour's MIDI clock into the assistant's
-- input, its output into the record-armed Answer track, the master bus on the system
-- outputs: Ardour's default), send MIDI clock, record for <seconds>, then write every
-- note of both tracks with its session sample, and Ardour's latencies, to <results>.
-- Prints ROLL_START when the transport is asked to roll and ROLL_DONE at the end.
-- usage: ardour7-lua -X ardour_roll.lua <session_dir> <name> <our_input> <our_output> <seconds> <results>
local dir, name, our_in, our_out, seconds, results = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5]), arg[6]
AudioEngine:set_backend("JACK", "ardour", "")
if not load_session(dir, name) then print("SETUP_FAIL load_session returned nil") os.exit(3) end
ARDOUR.config():set_send_midi_clock(true)
local player = Session:route_by_name("Player"):to_track()
local answer = Session:route_by_name("Answer"):to_track()
player:input():disconnect_all(nil)
answer:input():disconnect_all(nil)
player:output():disconnect_all(nil)
local failed = 0
local function connect(src, dst)
  local rc = AudioEngine:connect(src, dst)
  if rc ~= 0 then print("SETUP_FAIL connect", src, dst, rc) failed = failed + 1 end
end
connect("ardour:Player/midi_out 1", our_in)
connect("ardour:MIDI Clock out", our_in)
connect(our_out, "ardour:Answer/midi_in 1")
connect("ardour:Master/audio_out 1", "system:playback_1")
connect("ardour:Master/audio_out 2", "system:playback_2")
if failed ~= 0 then os.exit(6) end
answer:rec_enable_control():set_value(1, PBD.GroupControlDisposition.NoGroup)
sleep(1)  -- a few cycles, for Ardour to recompute its latencies
local f = io.open(results, "w")
local function put(...)
  local words = {...}
  for i = 1, #words do words[i] = tostring(words[i]) end
  f:write(table.concat(words, " "), "\n")
end
put("worst_output_latency", Session:worst_output_latency())
put("worst_input_latency", Session:worst_input_latency())
put("block_size", Session:get_block_size())
put("sample_rate", Session:sample_rate())
Session:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop, ARDOUR.TransportRequestSource.TRS_UI)
sleep(0.5)
Session:maybe_enable_record(false)
print("ROLL_START")
Session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
local t = 0
while t < seconds do sleep(0.5) t = t + 0.5 end
put("xruns", Session:get_xrun_count())
Session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
sleep(1.5)
Session:save_state("", false, false, false, false, false)
local tempo_map = Temporal.TempoMap.read()
for _, track in ipairs({player, answer}) do
  for region in track:playlist():region_list():iter() do
    local start_beats, position_beats = region:start():beats(), region:position():beats()
    for n in ARDOUR.LuaAPI.note_list(region:to_midiregion():model()):iter() do
      local beats = position_beats + (n:time() - start_beats)
      put("note", track:name(), n:note(), n:velocity(), tempo_map:sample_at_beats(beats))
    end
  end
end
f:close()
print("ROLL_DONE")

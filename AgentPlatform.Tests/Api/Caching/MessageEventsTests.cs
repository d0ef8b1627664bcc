using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using AgentPlatform.Api.Caching;

namespace AgentPlatform.Tests.Api.Caching;

/// <summary>The Messages door's cache entries: a stream assembled into its message, and a message replayed as a stream.</summary>
public sealed class MessageEventsTests
{
    private const string Stream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":1}}}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me "}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"think."}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: ping
        data: {"type":"ping"}

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking."}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":1}

        event: content_block_start
        data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"tu_1","name":"lookup","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"q\":"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"x\"}"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":2}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":12}}

        event: message_stop
        data: {"type":"message_stop"}


        """;

    [Fact]
    public void A_stream_assembles_into_its_message_and_the_message_replays_as_a_stream_that_assembles_the_same()
    {
        var message = MessageEvents.Assemble(Encoding.UTF8.GetBytes(Stream.ReplaceLineEndings("\n")));

        Assert.NotNull(message);
        var json = JsonNode.Parse(message)!;
        Assert.Equal("tool_use", json["stop_reason"]!.GetValue<string>());
        Assert.Equal("""{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":12}""", json["usage"]!.ToJsonString());
        var content = json["content"]!.AsArray();
        Assert.Equal("""{"type":"thinking","thinking":"Let me think.","signature":"sig"}""", content[0]!.ToJsonString());
        Assert.Equal("""{"type":"text","text":"Checking."}""", content[1]!.ToJsonString());
        Assert.Equal("""{"type":"tool_use","id":"tu_1","name":"lookup","input":{"q":"x"}}""", content[2]!.ToJsonString());

        var replayed = new ArrayBufferWriter<byte>();
        MessageEvents.WriteEventStream(replayed, message);

        Assert.Equal(message, MessageEvents.Assemble(replayed.WrittenSpan));
        Assert.StartsWith("event: message_start\n", Encoding.UTF8.GetString(replayed.WrittenSpan));
    }

    [Theory]
    [InlineData("event: message_stop")] // cut before its end
    [InlineData("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\nevent: message_stop")]
    public void A_stream_cut_short_or_ended_by_an_error_is_not_a_message(string from)
    {
        var stream = Stream.ReplaceLineEndings("\n");
        var cut = stream[..stream.IndexOf("event: message_stop", StringComparison.Ordinal)] + (from.StartsWith("event: error", StringComparison.Ordinal) ? from : "");

        Assert.Null(MessageEvents.Assemble(Encoding.UTF8.GetBytes(cut)));
    }
}

using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Providers.Anthropic;

namespace AgentPlatform.Tests.Router.Providers.Anthropic;

/// <summary>What the simulator cannot show: the parts of Anthropic's format it does not produce or check.</summary>
public sealed class AnthropicTranslationTests
{
    [Fact]
    public void System_and_developer_messages_become_the_system_prompt_and_same_role_turns_merge()
    {
        var translated = Translate("""
            {"model":"g","temperature":1.7,"top_p":0.9,"stop":"END","user":"u-1","messages":[
              {"role":"system","content":"Be brief."},
              {"role":"developer","content":[{"type":"text","text":"Use metric units."}]},
              {"role":"user","content":"Hi"},
              {"role":"user","content":"Are you there?"},
              {"role":"assistant","content":""},
              {"role":"assistant","content":"Yes."}]}
            """);

        Assert.Equal("Be brief.\n\nUse metric units.", translated["system"]!.GetValue<string>());
        Assert.Equal(1.0, translated["temperature"]!.GetValue<double>());
        Assert.Equal(0.9, translated["top_p"]!.GetValue<double>());
        Assert.Equal("""["END"]""", translated["stop_sequences"]!.ToJsonString());
        Assert.Equal("u-1", translated["metadata"]!["user_id"]!.GetValue<string>());
        Assert.Equal(AnthropicRequestTranslator.DefaultMaxTokens, translated["max_tokens"]!.GetValue<int>());
        var turns = translated["messages"]!.AsArray();
        Assert.Equal(2, turns.Count);
        Assert.Equal("""{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"text","text":"Are you there?"}]}""", turns[0]!.ToJsonString());
        Assert.Equal("""{"role":"assistant","content":[{"type":"text","text":"Yes."}]}""", turns[1]!.ToJsonString());
    }

    [Fact]
    public void Images_become_base64_or_url_image_blocks()
    {
        var translated = Translate("""
            {"model":"g","messages":[{"role":"user","content":[
              {"type":"text","text":"What is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
              {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}]}]}
            """);

        var blocks = translated["messages"]![0]!["content"]!.AsArray();
        Assert.Equal("""{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}""", blocks[1]!.ToJsonString());
        Assert.Equal("""{"type":"image","source":{"type":"url","url":"https://example.com/cat.jpg"}}""", blocks[2]!.ToJsonString());
    }

    [Fact]
    public void Tool_calls_and_their_results_become_tool_use_and_tool_result_blocks()
    {
        var translated = Translate("""
            {"model":"g","max_completion_tokens":50,"parallel_tool_calls":false,"tool_choice":"required",
             "tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}}],
             "messages":[
              {"role":"user","content":"call f twice"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}},
                {"id":"call_2","type":"function","function":{"name":"f","arguments":"{\"x\":2}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"one"},
              {"role":"tool","tool_call_id":"call_2","content":"two"}]}
            """);

        Assert.Equal(50, translated["max_tokens"]!.GetValue<int>());
        Assert.Equal("""[{"name":"f","input_schema":{"type":"object","properties":{"x":{"type":"integer"}}},"description":"d"}]""", translated["tools"]!.ToJsonString());
        Assert.Equal("""{"type":"any","disable_parallel_tool_use":true}""", translated["tool_choice"]!.ToJsonString());
        var turns = translated["messages"]!.AsArray();
        Assert.Equal(3, turns.Count);
        Assert.Equal("""[{"type":"tool_use","id":"call_1","name":"f","input":{"x":1}},{"type":"tool_use","id":"call_2","name":"f","input":{"x":2}}]""",
            turns[1]!["content"]!.ToJsonString());
        Assert.Equal("""{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"one"},{"type":"tool_result","tool_use_id":"call_2","content":"two"}]}""",
            turns[2]!.ToJsonString());
    }

    [Theory]
    [InlineData("""{"model":"g","messages":[{"role":"narrator","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"model":"g","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{not json"}}]}]}""", "messages[0].tool_calls[0].function.arguments")]
    [InlineData("""{"model":"g","messages":[{"role":"tool","content":"x"}]}""", "messages[0].tool_call_id")]
    [InlineData("""{"model":"g","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]}""", "messages[0].content[0].type")]
    public void A_request_anthropic_cannot_express_is_refused_naming_the_field(string body, string param)
    {
        var error = Assert.Throws<UntranslatableRequestException>(() => Translate(body));

        Assert.Equal(param, error.Param);
    }

    [Fact]
    public void A_message_with_cache_tokens_becomes_a_completion_whose_prompt_counts_them_and_names_the_cache_writes()
    {
        var output = new ArrayBufferWriter<byte>();
        using var message = JsonDocument.Parse("""
            {"id":"msg_1","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"Hi"}],
             "stop_reason":"max_tokens","usage":{"input_tokens":10,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":7}}
            """);

        AnthropicAnswerTranslator.WriteCompletion(output, message.RootElement, created: 1_700_000_000);

        var completion = JsonNode.Parse(output.WrittenSpan)!;
        Assert.Equal("length", completion["choices"]![0]!["finish_reason"]!.GetValue<string>());
        Assert.Equal("Hi", completion["choices"]![0]!["message"]!["content"]!.GetValue<string>());
        Assert.Equal("""{"prompt_tokens":115,"completion_tokens":7,"total_tokens":122,"prompt_tokens_details":{"cached_tokens":100},"cache_creation_input_tokens":5}""", completion["usage"]!.ToJsonString());
    }

    [Fact]
    public async Task A_stream_split_at_any_byte_translates_the_same_and_an_error_event_becomes_openais()
    {
        const string Events = """
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_9","model":"claude","usage":{"input_tokens":4,"cache_read_input_tokens":2,"output_tokens":1}}}

            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

            event: ping
            data: {"type":"ping"}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hé"}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"llo"}}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}

            event: message_stop
            data: {"type":"message_stop"}


            """;
        var whole = await TranslateStreamAsync(Events, chunkSize: 1 << 20);

        for (var size = 1; size < 64; size += 7)
        {
            Assert.Equal(whole, await TranslateStreamAsync(Events, size));
        }
        var chunks = whole.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", chunks[^1]);
        Assert.Equal("Héllo", string.Concat(chunks.SkipLast(1).Select(c => JsonNode.Parse(c)!["choices"]!.AsArray().FirstOrDefault()?["delta"]?["content"]?.GetValue<string>())));
        Assert.Equal("""{"prompt_tokens":6,"completion_tokens":2,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":2}}""", JsonNode.Parse(chunks[^2])!["usage"]!.ToJsonString());

        var failed = await TranslateStreamAsync("""
            event: error
            data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}


            """, 1 << 20);
        Assert.Equal("""data: {"error":{"message":"Overloaded","type":"overloaded_error","param":null,"code":"overloaded_error"}}""" + "\n\n", failed);
    }

    private static JsonObject Translate(string body) =>
        AnthropicRequestTranslator.Translate(Encoding.UTF8.GetBytes(body), "claude-test", deploymentMaxOutputTokens: null, out _);

    private static async Task<string> TranslateStreamAsync(string events, int chunkSize)
    {
        var bytes = Encoding.UTF8.GetBytes(events.ReplaceLineEndings("\n"));
        using var translated = new AnthropicEventStream(new ChunkedStream(bytes, chunkSize), includeUsage: true, created: 1);
        using var reader = new StreamReader(translated);
        return await reader.ReadToEndAsync();
    }

    /// <summary>Hands out its bytes at most <c>chunkSize</c> at a time, as a network would.</summary>
    private sealed class ChunkedStream(byte[] bytes, int chunkSize) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunkSize)], cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunkSize));
    }
}

using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Providers.Messages;

namespace AgentPlatform.Tests.Router.Providers.Messages;

/// <summary>Anthropic Messages requests said in OpenAI's Chat Completions, and its answers said back.</summary>
public sealed class MessagesTranslationTests
{
    private static JsonNode Translate(string body) =>
        JsonNode.Parse(MessagesRequestTranslator.Translate(Encoding.UTF8.GetBytes(body), "gpt-4o").ToJsonString())!;

    [Fact]
    public void Images_tools_choices_stops_and_the_user_carry_over_and_cache_breakpoints_and_thinking_are_dropped()
    {
        var chat = Translate("""
            {"model":"g","max_tokens":100,"temperature":0.2,"stop_sequences":["END"],"metadata":{"user_id":"u-1"},"stream":true,
             "system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
             "tools":[{"name":"lookup","description":"Finds.","input_schema":{"type":"object"}}],
             "tool_choice":{"type":"any","disable_parallel_tool_use":true},
             "messages":[
               {"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]},
               {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"Let me look."},{"type":"tool_use","id":"t1","name":"lookup","input":{"q":"x"}}]},
               {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"found"}],"is_error":true},{"type":"text","text":"And?"}]}]}
            """);

        Assert.Equal("gpt-4o", chat["model"]!.GetValue<string>());
        Assert.Equal(100, chat["max_tokens"]!.GetValue<int>());
        Assert.Equal(0.2, chat["temperature"]!.GetValue<double>());
        Assert.Equal("END", chat["stop"]![0]!.GetValue<string>());
        Assert.Equal("u-1", chat["user"]!.GetValue<string>());
        Assert.True(chat["stream_options"]!["include_usage"]!.GetValue<bool>());
        Assert.Equal("required", chat["tool_choice"]!.GetValue<string>());
        Assert.False(chat["parallel_tool_calls"]!.GetValue<bool>());
        Assert.Equal("lookup", chat["tools"]![0]!["function"]!["name"]!.GetValue<string>());
        var messages = chat["messages"]!.AsArray();
        Assert.Equal(["system", "user", "assistant", "tool", "user"], messages.Select(m => m!["role"]!.GetValue<string>()));
        Assert.Equal("Be brief.", messages[0]!["content"]!.GetValue<string>());
        Assert.Equal("data:image/png;base64,iVBO", messages[1]!["content"]![1]!["image_url"]!["url"]!.GetValue<string>());
        Assert.Equal("Let me look.", messages[2]!["content"]!.GetValue<string>());
        Assert.Equal("""{"q":"x"}""", messages[2]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>());
        Assert.Equal(("t1", "Error: found"), (messages[3]!["tool_call_id"]!.GetValue<string>(), messages[3]!["content"]!.GetValue<string>()));
        Assert.Equal("And?", messages[4]!["content"]!.GetValue<string>());
        Assert.DoesNotContain("cache_control", chat.ToJsonString());
        Assert.DoesNotContain("thinking", chat.ToJsonString());
    }

    [Theory]
    [InlineData("""{"model":"g","max_tokens":9,"top_k":5,"messages":[]}""", "top_k")]
    [InlineData("""{"model":"g","max_tokens":9,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[]}""", "thinking")]
    [InlineData("""{"model":"g","max_tokens":9,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}]}""", "messages.0.content.0.content.0")]
    [InlineData("""{"model":"g","max_tokens":9,"tools":[{"type":"bash_20250124","name":"bash"}],"messages":[]}""", "tools.0")]
    public void What_chat_completions_cannot_express_is_refused_naming_where_it_is(string body, string param)
    {
        var refused = Assert.Throws<UntranslatableRequestException>(() => Translate(body));

        Assert.Equal(param, refused.Param);
    }

    [Fact]
    public void A_completion_becomes_a_message_with_its_tool_use_stop_reason_and_usage_split_by_the_cache()
    {
        var output = new ArrayBufferWriter<byte>();
        using var completion = JsonDocument.Parse("""
            {"id":"c1","model":"gpt-4o","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":"Looking.",
              "tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"x\"}"}},{"id":"call_2","type":"function","function":{"name":"raw","arguments":"not json"}}]}}],
             "usage":{"prompt_tokens":120,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":100}}}
            """);

        MessagesAnswerTranslator.WriteMessage(output, completion.RootElement);

        var message = JsonNode.Parse(output.WrittenSpan)!;
        Assert.Equal("tool_use", message["stop_reason"]!.GetValue<string>());
        var content = message["content"]!.AsArray();
        Assert.Equal("Looking.", content[0]!["text"]!.GetValue<string>());
        Assert.Equal("""{"q":"x"}""", content[1]!["input"]!.ToJsonString());
        Assert.Equal("""{"arguments":"not json"}""", content[2]!["input"]!.ToJsonString());
        Assert.Equal("""{"input_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":100,"output_tokens":9}""", message["usage"]!.ToJsonString());
    }

    [Fact]
    public async Task A_chunk_stream_split_at_any_byte_becomes_the_same_named_events()
    {
        const string Chunks = """
            data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

            data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"}}]}

            data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"lookup","arguments":""}}]}}]}

            data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":1}"}}]},"finish_reason":"tool_calls"}]}

            data: {"id":"c1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}

            data: [DONE]


            """;
        var bytes = Encoding.UTF8.GetBytes(Chunks.ReplaceLineEndings("\n"));
        var whole = await TranslateAsync(bytes, bytes.Length);

        var events = whole.Split('\n').Where(l => l.StartsWith("event: ", StringComparison.Ordinal)).Select(l => l[7..]).ToList();
        Assert.Equal(["message_start", "content_block_start", "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"], events);
        Assert.Contains("""{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}}""", whole);
        Assert.Contains("""{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\u0022q\u0022:1}"}}""", whole);
        for (var size = 1; size < 40; size += 7)
        {
            Assert.Equal(whole, await TranslateAsync(bytes, size));
        }
    }

    private static async Task<string> TranslateAsync(byte[] chunks, int readSize)
    {
        using var response = new HttpResponseMessage(System.Net.HttpStatusCode.OK) { Content = new StringContent("") };
        response.Content.Headers.ContentType = new("text/event-stream");
        await using var translated = DoorTranslation.ReadAnswer(response, new TrickleStream(chunks, readSize), AgentPlatform.Contracts.OpenAI.ModelApi.Messages);
        using var reader = new StreamReader(translated);
        return await reader.ReadToEndAsync();
    }

    /// <summary>Gives its bytes at most <c>readSize</c> at a time, as a network does.</summary>
    private sealed class TrickleStream(byte[] bytes, int readSize) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, readSize)], cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, readSize));
    }
}

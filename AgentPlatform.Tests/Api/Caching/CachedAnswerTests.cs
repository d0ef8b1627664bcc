using System.Buffers;
using System.Text;
using System.Text.Json;
using AgentPlatform.Api.Caching;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Tests.Api.Caching;

public sealed class CachedAnswerTests
{
    private const string Completion = """
        {"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-x","system_fingerprint":"fp_1",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Hello there, friend","refusal":null},"logprobs":null,"finish_reason":"stop"}],
         "usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0}}}
        """;

    [Fact]
    public void An_entry_reads_back_as_it_was_stored()
    {
        var answer = new CachedAnswer(Encoding.UTF8.GetBytes(Completion), 9, 2, 3, 0.000123m, "sim;east");

        var read = CachedAnswer.Deserialize(answer.Serialize())!;

        Assert.Equal(Completion, Encoding.UTF8.GetString(read.Body.Span));
        Assert.Equal((9L, 2L, 3L, 0.000123m, "sim;east"), (read.PromptTokens, read.CachedTokens, read.CompletionTokens, read.CostUsd, read.Deployment));
        Assert.Null(CachedAnswer.Deserialize("v0 junk\n{}"u8.ToArray()));
    }

    [Fact]
    public void A_replayed_stream_assembles_back_into_the_same_completion()
    {
        var answer = new CachedAnswer(Encoding.UTF8.GetBytes(Completion), 9, 0, 3, 0, null);
        var events = new ArrayBufferWriter<byte>();

        answer.WriteEventStream(events, includeUsage: true);
        var assembled = StreamedAnswer.Assemble(events.WrittenSpan, reported: null)!;

        var original = JsonDocument.Parse(Completion).RootElement;
        var again = JsonDocument.Parse(assembled).RootElement;
        foreach (var name in new[] { "id", "model", "system_fingerprint", "object" })
        {
            Assert.Equal(original.GetProperty(name).GetString(), again.GetProperty(name).GetString());
        }
        Assert.Equal(original.GetProperty("created").GetInt64(), again.GetProperty("created").GetInt64());
        Assert.Equal("Hello there, friend", again.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", again.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(12, again.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.EndsWith("data: [DONE]\n\n", Encoding.UTF8.GetString(events.WrittenSpan));
    }

    [Fact]
    public void Tool_call_deltas_are_joined_by_index_and_usage_falls_back_to_the_routers_report()
    {
        var stream = string.Concat(
            Event("""{"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"look","arguments":""}}]},"finish_reason":null}]}"""),
            Event("""{"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"q\":"}}]},"finish_reason":null}]}"""),
            Event("""{"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"x\"}"}}]},"finish_reason":null}]}"""),
            Event("""{"id":"c1","object":"chat.completion.chunk","created":5,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"""),
            "data: [DONE]\r\n\r\n");

        var json = StreamedAnswer.Assemble(Encoding.UTF8.GetBytes(stream), new UsageReport(new TokenUsage(20, 7, 4), Estimated: false))!;

        var completion = JsonDocument.Parse(json).RootElement;
        var call = completion.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls")[0];
        Assert.Equal(("call_1", "look", """{"q":"x"}"""), (call.GetProperty("id").GetString(), call.GetProperty("function").GetProperty("name").GetString(), call.GetProperty("function").GetProperty("arguments").GetString()));
        Assert.Equal("tool_calls", completion.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal((20, 7, 4), (completion.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), completion.GetProperty("usage").GetProperty("completion_tokens").GetInt32(),
            completion.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32()));
    }

    [Theory]
    [InlineData("no [DONE]", false, true)]
    [InlineData("an error event", true, true)]
    [InlineData("a choice that never finished", true, false)]
    public void A_stream_that_is_not_a_whole_answer_makes_no_entry(string _, bool done, bool finished)
    {
        var events = new StringBuilder(Event("""{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"""));
        if (finished)
        {
            events.Append(Event("""{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"""));
        }
        if (_ == "an error event")
        {
            events.Append(Event("""{"error":{"message":"upstream broke","type":"server_error"}}"""));
        }
        if (done)
        {
            events.Append("data: [DONE]\n\n");
        }

        Assert.Null(StreamedAnswer.Assemble(Encoding.UTF8.GetBytes(events.ToString()), reported: null));
    }

    [Fact]
    public void Only_a_json_answer_whose_choices_all_finished_is_complete()
    {
        Assert.True(CachedAnswer.IsComplete(Encoding.UTF8.GetBytes(Completion)));
        Assert.False(CachedAnswer.IsComplete("""{"choices":[]}"""u8.ToArray()));
        Assert.False(CachedAnswer.IsComplete("""{"choices":[{"message":{"content":"x"}}]}"""u8.ToArray()));
        Assert.False(CachedAnswer.IsComplete("""{"choices":[{"message":"""u8.ToArray()));
    }

    private static string Event(string json) => $"data: {json}\n\n";
}

public sealed class CacheKeyTests
{
    [Fact]
    public void Order_whitespace_number_forms_escapes_and_ignored_fields_do_not_change_the_key()
    {
        var key = Key("""{"model":"m","temperature":1,"messages":[{"role":"user","content":"hé"}]}""");

        Assert.Equal(key, Key("""{ "messages" : [ { "content" : "h\u00e9", "role" : "user" } ], "temperature" : 1.0, "model" : "m" }"""));
        Assert.Equal(key, Key("""{"model":"m","temperature":10e-1,"messages":[{"role":"user","content":"hé"}],"stream":true,"stream_options":{"include_usage":true},"user":"u1","metadata":{"a":"b"},"store":true}"""));
        Assert.Matches("^[0-9a-f]{64}$", key);
    }

    [Fact]
    public void Order_inside_arrays_and_any_other_field_change_the_key()
    {
        var key = Key("""{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}""");

        Assert.NotEqual(key, Key("""{"model":"m","messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]}"""));
        Assert.NotEqual(key, Key("""{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}],"n":2}"""));
        Assert.NotEqual(key, Key("""{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}],"some_new_parameter":true}"""));
        Assert.NotEqual(key, Key("""{"model":"m2","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"""));
        // "user" is ignored only at the top level, not as a message's field.
        Assert.NotEqual(key, Key("""{"model":"m","messages":[{"role":"user","content":"a","user":"x"},{"role":"user","content":"b"}]}"""));
    }

    private static string Key(string json) => CacheKey.Compute(Encoding.UTF8.GetBytes(json));
}

using System.Text;
using System.Text.Json;
using AgentPlatform.Simulator;
using AgentPlatform.Simulator.Completions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace AgentPlatform.Tests.Simulator.Completions;

public sealed class CompletionGeneratorTests
{
    private readonly CompletionGenerator _generator = new(
        new OptionsMonitor(new SimulatorOptions { OutputTokens = 10 }), new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));

    [Fact]
    public void The_same_request_gives_the_same_answer_and_another_request_another()
    {
        var first = Generate("""{"model":"m","messages":[{"role":"user","content":"one"}]}""");
        var again = Generate("""{"model":"m","messages":[{"role":"user","content":"one"}]}""");
        var other = Generate("""{"model":"m","messages":[{"role":"user","content":"two"}]}""");

        Assert.Equal(first.Content, again.Content);
        Assert.Equal(first.Id, again.Id);
        Assert.NotEqual(first.Content, other.Content);
    }

    [Fact]
    public void Usage_counts_what_was_written()
    {
        var completion = Generate("""{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"say three words"}]}""");

        Assert.Equal(10, completion.CompletionTokens);
        Assert.Equal(10, completion.Content.Split(' ').Length);
        Assert.Equal(3 + (3 + 2) + (3 + 3), completion.PromptTokens);
        Assert.Equal("stop", completion.FinishReason);
    }

    [Fact]
    public void Max_tokens_cuts_the_answer_with_finish_reason_length()
    {
        var completion = Generate("""{"model":"m","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(4, completion.Tokens.Count);
        Assert.Equal("length", completion.FinishReason);
    }

    [Fact]
    public void A_tool_named_in_the_last_user_message_is_called_with_every_parameter()
    {
        var completion = Generate("""
            {"model":"m","messages":[{"role":"user","content":"What is the weather? use get_weather"}],
             "tools":[{"type":"function","function":{"name":"get_time"}},
                      {"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"metric":{"type":"boolean"}}}}}]}
            """);

        Assert.NotNull(completion.ToolCall);
        Assert.Equal("get_weather", completion.ToolCall.Name);
        Assert.Equal("tool_calls", completion.FinishReason);
        var arguments = JsonDocument.Parse(completion.ToolCall.Arguments).RootElement;
        Assert.Equal("sim", arguments.GetProperty("city").GetString());
        Assert.Equal(1, arguments.GetProperty("days").GetInt32());
        Assert.True(arguments.GetProperty("metric").GetBoolean());
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"just chat"}],"tools":[{"type":"function","function":{"name":"f"}}]}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"use a tool"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"}""")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"use f"},{"role":"tool","tool_call_id":"x","content":"42"}],"tools":[{"type":"function","function":{"name":"f"}}]}""")]
    public void No_tool_is_called_unless_the_rule_asks_for_one(string json) => Assert.Null(Generate(json).ToolCall);

    [Fact]
    public void Tool_choice_auto_as_sdks_send_it_picks_the_tool_the_user_names()
    {
        var completion = Generate("""{"model":"m","messages":[{"role":"user","content":"please use beta"}],"tools":[{"type":"function","function":{"name":"alpha"}},{"type":"function","function":{"name":"beta"}}],"tool_choice":"auto"}""");

        Assert.Equal("beta", completion.ToolCall?.Name);
    }

    [Fact]
    public void A_user_asking_for_a_loop_gets_the_same_call_after_every_result()
    {
        var completion = Generate("""{"model":"m","messages":[{"role":"user","content":"use beta in a loop"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"beta","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}],"tools":[{"type":"function","function":{"name":"alpha"}},{"type":"function","function":{"name":"beta"}}]}""");

        Assert.Equal("beta", completion.ToolCall?.Name);
    }

    [Fact]
    public void A_forced_tool_choice_is_always_called()
    {
        var completion = Generate("""{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}],"tool_choice":{"type":"function","function":{"name":"b"}}}""");

        Assert.Equal("b", completion.ToolCall?.Name);
    }

    [Fact]
    public void With_prompt_caching_a_long_prompt_seen_before_reports_its_tokens_as_cached_in_steps_of_128()
    {
        var generator = new CompletionGenerator(new OptionsMonitor(new SimulatorOptions { PromptCaching = true }), TimeProvider.System);
        var longPrompt = string.Join(' ', Enumerable.Repeat("word", 1100));
        string Body(string text, int maxTokens) => JsonSerializer.Serialize(new { model = "m", max_tokens = maxTokens, messages = new[] { new { role = "user", content = text } } });

        var first = generator.Generate(Encoding.UTF8.GetBytes(Body(longPrompt, 5))).Completion!;
        var again = generator.Generate(Encoding.UTF8.GetBytes(Body(longPrompt, 7))).Completion!; // same prompt, other request
        var shortPrompt = generator.Generate(Encoding.UTF8.GetBytes(Body("short", 5))).Completion!;
        var shortAgain = generator.Generate(Encoding.UTF8.GetBytes(Body("short", 5))).Completion!;

        Assert.Equal(1106, first.PromptTokens);
        Assert.Equal(0, first.CachedTokens);
        Assert.Equal(1024, again.CachedTokens);
        Assert.Equal(0, shortPrompt.CachedTokens);
        Assert.Equal(0, shortAgain.CachedTokens); // under OpenAI's 1,024-token minimum
        Assert.Equal(0, Generate(Body(longPrompt, 5)).CachedTokens); // off unless configured
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"model\":\"m\"}")]
    [InlineData("{oops")]
    public void Bodies_that_are_not_chat_requests_are_errors(string json)
    {
        var (completion, error) = _generator.Generate(Encoding.UTF8.GetBytes(json));

        Assert.Null(completion);
        Assert.NotNull(error);
    }

    private SimulatedCompletion Generate(string json)
    {
        var (completion, error) = _generator.Generate(Encoding.UTF8.GetBytes(json));
        Assert.Null(error);
        return completion!;
    }

    private sealed class OptionsMonitor(SimulatorOptions value) : IOptionsMonitor<SimulatorOptions>
    {
        public SimulatorOptions CurrentValue => value;

        public SimulatorOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<SimulatorOptions, string?> listener) => null;
    }
}

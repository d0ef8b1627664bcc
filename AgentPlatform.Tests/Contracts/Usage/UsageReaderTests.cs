using System.Text;
using AgentPlatform.Contracts.Usage;

namespace AgentPlatform.Tests.Contracts.Usage;

public sealed class UsageReaderTests
{
    [Fact]
    public void A_completions_top_level_usage_is_read_and_nested_ones_are_not()
    {
        var json = """{"id":"x","choices":[{"message":{"content":"{\"usage\":{\"prompt_tokens\":999}}"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":null}}}""";

        Assert.Equal(new TokenUsage(12, 5, 4), UsageReader.FromJson(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void The_usage_event_of_a_stream_is_found_among_the_others()
    {
        var events = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n" +
                     "data: {\"choices\":[], \"usage\": {\"prompt_tokens\": 7, \"completion_tokens\": 2}}\n\n" +
                     "data: [DONE]\n\n";

        Assert.Equal(new TokenUsage(7, 2, 0), UsageReader.FromEvents(Encoding.UTF8.GetBytes(events)));
        Assert.Null(UsageReader.FromEvents("data: {\"usage\":null}\n\n"u8));
        Assert.Null(UsageReader.FromJson("{\"usage\":{\"prompt_tokens\":"u8));
    }
}

using AgentPlatform.ServiceDefaults.Telemetry;

namespace AgentPlatform.Tests.ServiceDefaults.Telemetry;

public sealed class LogTextTests
{
    [Fact]
    public void Line_breaks_and_other_control_characters_cannot_forge_a_log_line()
    {
        var forged = LogText.Safe("/v1/x\r\n2026-12-02 info: Admin signed in\u001b[0m");

        Assert.Equal("/v1/x\\u000d\\u000a2026-12-02 info: Admin signed in\\u001b[0m", forged);
    }

    [Fact]
    public void Long_text_is_cut_and_says_so_and_plain_text_is_passed_as_it_is()
    {
        var plain = "No deployment of model 'chat' could answer.";

        Assert.Same(plain, LogText.Safe(plain));
        Assert.Equal(new string('x', 10) + "…", LogText.Safe(new string('x', 50), maxLength: 10));
        Assert.Equal("", LogText.Safe(null));
    }
}

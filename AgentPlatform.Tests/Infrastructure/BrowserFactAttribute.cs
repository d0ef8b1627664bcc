namespace AgentPlatform.Tests.Infrastructure;

/// <summary>
/// A test that needs Chromium (<c>apt-get install chromium</c>). Skipped where it is missing on a
/// developer's machine, so the test command works with the SDK alone; never skipped in CI, where
/// <c>.ci/run</c> installs it and a missing browser must fail loudly.
/// </summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public const string ChromiumPath = "/usr/bin/chromium";

    public BrowserFactAttribute()
    {
        if (!File.Exists(ChromiumPath) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = $"Chromium is not installed at {ChromiumPath}: apt-get install chromium";
        }
    }
}

/// <summary>A <see cref="BrowserFactAttribute"/> with data: skipped alike where Chromium is missing (and never in CI).</summary>
public sealed class BrowserTheoryAttribute : TheoryAttribute
{
    public BrowserTheoryAttribute()
    {
        if (!File.Exists(BrowserFactAttribute.ChromiumPath) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
        {
            Skip = $"Chromium is not installed at {BrowserFactAttribute.ChromiumPath}: apt-get install chromium";
        }
    }
}

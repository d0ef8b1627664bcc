using System.Net;
using System.Text.RegularExpressions;
using AgentPlatform.Tests.Infrastructure;
using AgentPlatform.Web.Platform;
using AgentPlatform.Web.SignIn;

namespace AgentPlatform.Tests.Web;

/// <summary>
/// A console session over plain HTTP, as a browser holds it: it ends when the credential changes or
/// anyone signs out, pages are never framed, and sign-in guessing is cut off per address.
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed partial class ConsoleSessionTests(PlatformFixture platform)
{
    private const string Credential = "console-credential-0123456789";

    [Fact]
    public async Task A_session_ends_when_the_credential_is_rotated()
    {
        var configuration = new ReloadableConfiguration();
        await using var web = StartWeb(configuration);
        using var browser = Browser(web);
        await SignInAsync(browser, Credential);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/health")).StatusCode);

        configuration.Change(new Dictionary<string, string?> { ["AgentPlatform:AdminCredential"] = "rotated-credential-0123456789" });

        using var after = await browser.GetAsync("/health");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
        Assert.StartsWith("/signin", after.Headers.Location!.PathAndQuery);
    }

    [Fact]
    public async Task Signing_out_anywhere_ends_every_session()
    {
        await using var web = StartWeb();
        using var mine = Browser(web);
        using var theirs = Browser(web);
        await SignInAsync(mine, Credential);
        await SignInAsync(theirs, Credential);

        using (var signOut = await theirs.PostAsync("/account/signout", new FormUrlEncodedContent([new("__RequestVerificationToken", await TokenAsync(theirs, "/health"))])))
        {
            Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        }

        using var page = await mine.GetAsync("/health");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        await SignInAsync(mine, Credential); // a new session after it is fine
        Assert.Equal(HttpStatusCode.OK, (await mine.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task Pages_may_not_be_framed()
    {
        await using var web = StartWeb();
        using var browser = Browser(web);

        using var page = await browser.GetAsync("/signin");

        Assert.Equal(["DENY"], page.Headers.GetValues("X-Frame-Options"));
        Assert.Contains("frame-ancestors 'none'", page.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task After_too_many_wrong_credentials_an_address_may_not_sign_in_even_with_the_right_one()
    {
        await using var web = StartWeb();
        using var browser = Browser(web);
        for (var i = 0; i < ConsoleSessions.MaxFailures; i++)
        {
            Assert.Contains("error=wrong", await PostSignInAsync(browser, $"guess-{i}"));
        }

        Assert.Contains("error=throttled", await PostSignInAsync(browser, Credential));
        Assert.Equal(HttpStatusCode.Redirect, (await browser.GetAsync("/health")).StatusCode);
    }

    [Theory]
    [InlineData("AgentPlatform:MasterKey", "short")]
    [InlineData("AgentPlatform:AdminCredential", "guessable")]
    [InlineData("AgentPlatform:DashboardUrl", "javascript:alert(1)")]
    public void A_console_with_an_invalid_setting_refuses_to_start_naming_it(string key, string value)
    {
        using var web = new KestrelApp<ConsoleOptions>(new Dictionary<string, string?>
        {
            ["AgentPlatform:MasterKey"] = PlatformFixture.MasterKey,
            ["services:api:http:0"] = platform.Api.BaseAddress.ToString(),
            [key] = value,
        });

        var failure = Assert.ThrowsAny<Exception>(() => web.Start());

        Assert.Contains(key, failure.ToString());
    }

    private KestrelApp<ConsoleOptions> StartWeb(ReloadableConfiguration? configuration = null) =>
        new KestrelApp<ConsoleOptions>(new Dictionary<string, string?>
        {
            ["AgentPlatform:MasterKey"] = PlatformFixture.MasterKey,
            ["AgentPlatform:AdminCredential"] = Credential,
            ["services:api:http:0"] = platform.Api.BaseAddress.ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
        }, extraConfiguration: configuration).Start();

    /// <summary>A client that keeps cookies and, like a test of redirects, does not follow them.</summary>
    private static HttpClient Browser(IRunningService web) =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = web.BaseAddress };

    private static async Task SignInAsync(HttpClient browser, string credential) =>
        Assert.DoesNotContain("error=", await PostSignInAsync(browser, credential));

    /// <summary>Posts the sign-in form as the page would (with its antiforgery token); where it redirects.</summary>
    private static async Task<string> PostSignInAsync(HttpClient browser, string credential)
    {
        var token = await TokenAsync(browser, "/signin");
        using var response = await browser.PostAsync("/account/signin", new FormUrlEncodedContent(
            [new("credential", credential), new("returnUrl", "/health"), new("__RequestVerificationToken", token)]));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return response.Headers.Location!.ToString();
    }

    private static async Task<string> TokenAsync(HttpClient browser, string page)
    {
        var html = await browser.GetStringAsync(page);
        var token = AntiforgeryToken().Match(html).Groups[1].Value;
        Assert.True(token.Length > 0, $"no antiforgery token in {page}: {html}");
        return token;
    }

    [GeneratedRegex("<input[^>]*name=\"__RequestVerificationToken\"[^>]*value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();
}

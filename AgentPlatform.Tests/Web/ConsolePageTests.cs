using System.Text.RegularExpressions;
using AgentPlatform.Tests.EndToEnd;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AgentPlatform.Tests.Web;

/// <summary>The console in a real browser, against the whole platform started by the AppHost.</summary>
[Collection(AppHostCollection.Name)]
public sealed class ConsolePageTests(AppHostFixture platform) : IAsyncLifetime
{
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = BrowserFactAttribute.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }
        _playwright?.Dispose();
    }

    [BrowserFact]
    public async Task Health_page_shows_the_api_and_its_dependencies_healthy()
    {
        var page = await _browser.NewPageAsync();

        await page.GotoAsync(platform.WebBaseAddress.ToString());

        await Assertions.Expect(page.GetByTestId("api-status")).ToHaveTextAsync("Healthy");
        await Assertions.Expect(page.Locator("td", new() { HasText = "router" })).ToBeVisibleAsync();
    }

    [BrowserFact]
    public async Task Playground_streams_an_answer_and_shows_which_deployment_gave_it()
    {
        var page = await _browser.NewPageAsync();
        var missing = new List<string>();
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                missing.Add($"{response.Status} {response.Url}");
            }
        };
        await page.GotoAsync(new Uri(platform.WebBaseAddress, "/playground").ToString());
        // Typing before the circuit connects would be lost: wait until the page is interactive.
        await Assertions.Expect(page.Locator("[data-interactive=true]")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByTestId("model")).ToHaveValueAsync("default");

        await page.GetByTestId("message").FillAsync("Hello from the browser");
        await page.GetByTestId("send").ClickAsync();

        await Assertions.Expect(page.GetByTestId("reply-meta")).ToContainTextAsync("deployment sim-");
        // The meta line arrives with the headers; the text streams in after it, 16 words in all.
        await Assertions.Expect(page.GetByTestId("answer")).ToHaveTextAsync(new Regex(@"^\s*\S+( \S+){15}\s*$"));
        await Assertions.Expect(page.GetByTestId("send")).ToBeEnabledAsync();
        Assert.DoesNotContain(AppHostFixture.MasterKey, await page.ContentAsync());
        Assert.Empty(missing);
    }
}
